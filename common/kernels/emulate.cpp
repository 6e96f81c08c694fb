// Host driver for the kernel emulation test (see host_shim.h). Runs every kernel of mlp.cu on
// deterministic inputs and prints one line per result: `name v0 v1 ...` (%.17g). The Rust side
// (gpu::tests::kernels_run_on_the_host_like_the_twin) builds the same inputs and compares.
#include "host_shim.h"
#include "mlp.cu"
#include <vector>

static std::vector<T> inp(size_t n, double salt) {
    std::vector<T> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = (T)(2.0 * std::sin(1.3 + 0.7 * (double)i + salt));
    return v;
}
static void out(const char* name, const std::vector<T>& v) {
    std::printf("%s", name);
    for (T x : v) std::printf(" %.17g", (double)x);
    std::printf("\n");
}

int main() {
    const size_t n = 3, h = 4, len = 12;
    std::vector<T> z = inp(len, 0.0), a(len), b = inp(h, 0.5);
    fill_bias(z.data(), b.data(), n, h);
    out("fill_bias", z);
    for (int act = 0; act < 4; ++act) {
        char name[64];
        std::vector<T> zz = inp(len, 0.1 * act), aa(len), d = inp(len, 1.0), r = inp(len, 2.0);
        act_fwd(act, zz.data(), aa.data(), len);
        std::snprintf(name, sizeof name, "act_fwd%d", act);
        out(name, aa);
        std::vector<T> d1 = d;
        mul_d1(act, d1.data(), zz.data(), aa.data(), len);
        std::snprintf(name, sizeof name, "mul_d1%d", act);
        out(name, d1);
        std::vector<T> ra(len);
        r_act(act, ra.data(), r.data(), zz.data(), aa.data(), len);
        std::snprintf(name, sizeof name, "r_act%d", act);
        out(name, ra);
        std::vector<T> rda = r, da = d, rz = inp(len, 3.0);
        r_bwd(act, rda.data(), da.data(), zz.data(), aa.data(), rz.data(), len);
        std::snprintf(name, sizeof name, "r_bwd_rda%d", act);
        out(name, rda);
        std::snprintf(name, sizeof name, "r_bwd_da%d", act);
        out(name, da);
    }
    std::vector<T> cs(h + 2);
    std::vector<T> g = inp(len, 4.0);
    col_sum(cs.data() + 2, g.data(), n, h);
    out("col_sum", cs);
    for (int loss = 0; loss < 3; ++loss) {
        for (int soft = 0; soft < 2; ++soft) {
            char name[64];
            std::vector<T> f = inp(len, 5.0 + loss), y(len), gg(len), rows(n), hv(len), rr = inp(len, 6.0);
            for (size_t i = 0; i < n; ++i)
                for (size_t j = 0; j < h; ++j)
                    y[i * h + j] = soft ? (T)(0.25 + 0.1 * (double)((i + j) % 3)) : (T)((i + 1) % h == j ? 1 : 0);
            loss_grad(loss, f.data(), y.data(), n, h, gg.data(), rows.data());
            std::snprintf(name, sizeof name, "loss_grad_g%d_%d", loss, soft);
            out(name, gg);
            std::snprintf(name, sizeof name, "loss_grad_rows%d_%d", loss, soft);
            out(name, rows);
            loss_hvp(loss, f.data(), y.data(), rr.data(), n, h, hv.data());
            std::snprintf(name, sizeof name, "loss_hvp%d_%d", loss, soft);
            out(name, hv);
        }
    }
    {
        const size_t ho = 2, hi = 3, ld = 9, off = 1;
        std::vector<T> o(off + n * ld), gg = inp(n * ho, 7.0), aa = inp(n * hi, 8.0);
        outer_rows(o.data() + off, ld, gg.data(), aa.data(), n, ho, hi);
        out("outer_rows", o);
        std::vector<T> c(off + n * ld);
        copy_rows(c.data() + off, ld, gg.data(), n, ho);
        out("copy_rows", c);
    }
    {
        const size_t m = 1001;
        std::vector<T> x = inp(m, 9.0), y = inp(m, 10.0), part(1), res(1);
        axpby(y.data(), (T)2.5, x.data(), (T)-0.5, m);
        out("axpby", y);
        scale(x.data(), (T)-1.5, m);
        out("scale", x);
        std::vector<T> pr(m);
        mul(pr.data(), x.data(), y.data(), m);
        out("mul", pr);
        reduce_dot(x.data(), y.data(), 1, m, part.data());
        reduce_final(part.data(), 1, res.data());
        out("dot", res);
        reduce_dot(x.data(), x.data(), 0, m, part.data());
        reduce_final(part.data(), 1, res.data());
        out("sum", res);
        std::vector<T> s(64);
        rademacher(s.data(), 12345ull, 64);
        out("rademacher", s);
    }
    return 0;
}
