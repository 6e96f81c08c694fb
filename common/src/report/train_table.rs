//! Training logs as report tables (kept here so that `train`, a lower layer, does not import
//! `report`).
use super::Table;
use crate::train::TrainLog;

impl TrainLog {
    /// The evaluation rows as a table: `step`, then one column per metric (NaN where a row lacks
    /// it).
    pub fn to_table(&self, name: &str, caption: &str) -> Table {
        let mut t = Table::new(name, caption).usize("step", self.rows.iter().map(|r| r.step).collect());
        for m in self.metric_names() {
            let col =
                self.rows.iter().map(|r| r.metrics.iter().find(|(k, _)| *k == m).map_or(f64::NAN, |x| x.1)).collect();
            t = t.f64(&m, col);
        }
        t
    }

    /// The per-step mini-batch losses as a table (`step`, `batch_loss`).
    pub fn batch_loss_table(&self, name: &str, caption: &str) -> Table {
        Table::new(name, caption)
            .usize("step", (0..self.batch_losses.len()).collect())
            .f64("batch_loss", self.batch_losses.clone())
    }
}

impl From<&TrainLog> for Table {
    fn from(log: &TrainLog) -> Table {
        log.to_table("train_log", "evaluations during training")
    }
}
