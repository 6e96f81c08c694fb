"""NumPy cross-check of neural-collapse-perturbation (Tirer, Huang & Niles-Weed 2023, Eq. 2).
Independent of the Rust code: central-path flow (Eq. 4), minimiser of Eq. 2 by long gradient flow,
near-collapse NC1 ratio vs (beta/(beta+sqrt(lh/lw)))^2 and Theorem 4.2's blocks of F (finite-difference Hessian)."""
import numpy as np
def W_(H,Y,n,lw): return Y@H.T@np.linalg.inv(H@H.T+n*lw*np.eye(len(H)))
def G(H,Y,n,lw,lh): W=W_(H,Y,n,lw); return W.T@(W@H-Y)+lh*H
def covs(H,K,n):
    Hc=H.reshape(len(H),K,n); mu=Hc.mean(2); g=mu.mean(1,keepdims=True); C=Hc-mu[:,:,None]
    return np.einsum('dki,eki->de',C,C)/(K*n), (mu-g)@(mu-g).T/K
def nct(H,K,n): Sw,Sb=covs(H,K,n); return np.trace(Sw)/np.trace(Sb)
def nc1(H,K,n): Sw,Sb=covs(H,K,n); return np.trace(Sw@np.linalg.pinv(Sb,rcond=1e-8,hermitian=True))/K
K,n,d,lh=4,20,16,0.01; Y=np.kron(np.eye(K),np.ones((1,n))); rng=np.random.default_rng(0)
H0=np.repeat(rng.standard_normal((d,K)),n,1)+0.5*rng.standard_normal((d,K*n))
for lw in [1e-3,1e-2,1e-1]:
    H=H0.copy(); v=[nct(H,K,n)]
    for _ in range(2000): H=H-0.02*G(H,Y,n,lw,lh); v.append(nct(H,K,n))
    r=[]
    for b in [0.1,1,10]:
        H=H0.copy(); dt=0.02/max(1,b)
        for _ in range(int(60/(b*dt))+2000): H=H-dt*(G(H,Y,n,lw,lh)+b*(H-H0))
        r.append(nct(H,K,n)/nct(H0,K,n))
    print(f"lw={lw}: Eq.4 flow max rel rise {np.max(np.diff(v)/np.array(v[:-1])):.3e}, NC~1 ratio at t=40 {v[-1]/v[0]:.4f}; minimiser ratios (beta 0.1,1,10) {np.round(r,4)}")
K,n,d,b=4,10,10,1.0; Y=np.kron(np.eye(K),np.ones((1,n)))
for lh,lw in [(0.1,0.25),(0.4,1.0)]:
    R=np.linalg.qr(rng.standard_normal((d,d)))[0][:,:K]; c=np.sqrt(lh*lw); Hs=np.repeat(np.sqrt((1-c)*np.sqrt(lw/lh))*R,n,1)
    E=rng.standard_normal(Hs.shape); eps=1e-3; H0=Hs+eps*E; H=H0.copy()
    for _ in range(20000): H=H-0.2*(G(H,Y,n,lw,lh)+b*(H-H0))
    m=d*K*n; J=np.zeros((m,m)); h=1e-6; f=lambda x: G(x.reshape(K*n,d).T,Y,n,lw,lh).T.ravel()
    x0=Hs.T.ravel()
    for j in range(m): e=np.zeros(m); e[j]=h; J[:,j]=(f(x0+e)-f(x0-e))/(2*h)
    B=1000.0; F=B*np.linalg.inv(J+B*np.eye(m)); s=d*n; sv=lambda A: np.linalg.svd(A,compute_uv=False)
    smin=min(sv(F[k*s:(k+1)*s,k*s:(k+1)*s])[-1] for k in range(K)); soff=max(sv(F[0:s,k*s:(k+1)*s])[0] for k in range(1,K))
    print(f"lh={lh} lw={lw}: NC1 ratio eps=1e-3 {nc1(H,K,n)/nc1(H0,K,n):.5f} vs closed form {(b/(b+np.sqrt(lh/lw)))**2:.5f}; "
          f"beta=1000: (1-smin)*beta {(1-smin)*B:.4f} vs {np.sqrt(lh/lw):.4f}, soff*beta {soff*B:.4f} vs {2*lh*(1-c):.4f}")
