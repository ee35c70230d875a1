//! Reading loaded data at an evaluation time: instant selectors (the
//! latest sample within the lookback), range windows (left-open, stale
//! markers removed) and rollup-served `*_over_time` calls.

use super::eval::Evaluator;
use super::plan::{self, at_ms, offset_ms};
use super::rollups;
use super::value::{is_stale, Metric, Sample, Series};
use super::Result;
use promql_parser::parser::{Expr, VectorSelector};

impl Evaluator {
    /// The reference time of a selector evaluated at `t`.
    pub fn ref_time(&self, vs: &VectorSelector, t: i64) -> i64 {
        at_ms(&vs.at, self.r).unwrap_or(t) - offset_ms(&vs.offset)
    }

    fn loaded(&self, vs: &VectorSelector) -> &[plan::Loaded] {
        let node = vs as *const VectorSelector as usize;
        let cached = self.by_node.borrow().get(&node).copied();
        let idx = match cached {
            Some(i) => i,
            None => {
                let i = self.keys.get(&plan::key(vs)).copied();
                self.by_node.borrow_mut().insert(node, i);
                i
            }
        };
        idx.map(|i| self.data[i].as_slice()).unwrap_or(&[])
    }

    /// `name(vs[range])` at `t` from rollups, when the plan chose them for
    /// this node.
    pub fn over_time_from_rollups(&self, name: &str, e: &Expr, t: i64) -> Option<Vec<Sample>> {
        let Expr::MatrixSelector(ms) = e else {
            return None;
        };
        let served = self
            .rollups
            .get(&(&ms.vs as *const VectorSelector as usize))?;
        let loaded = self
            .keys
            .get(&served.key)
            .map(|i| self.data[*i].as_slice())
            .unwrap_or(&[]);
        let mut out = Vec::new();
        let range = ms.range.as_millis() as i64;
        rollups::eval(
            name,
            served,
            loaded,
            self.ref_time(&ms.vs, t),
            range,
            t,
            &mut out,
        );
        Some(out)
    }

    /// Latest sample in (ref - lookback, ref] per series, unless stale.
    /// `raw_time` keeps the sample's own timestamp (for `timestamp()`).
    pub fn select_instant_at(&self, vs: &VectorSelector, t: i64, raw_time: bool) -> Vec<Sample> {
        let rt = self.ref_time(vs, t);
        let mut out = Vec::new();
        for l in self.loaded(vs) {
            let i = l.points.partition_point(|p| p.0 <= rt);
            if i == 0 {
                continue;
            }
            let (pt, pv) = l.points[i - 1];
            if pt > rt - self.lookback && !is_stale(pv) {
                out.push(Sample {
                    metric: l.metric.clone(),
                    t: if raw_time { pt } else { t },
                    v: pv,
                });
            }
        }
        out
    }

    /// [`Self::select_instant`] at every step of the range, series by
    /// series: one pass over each series' samples with a cursor (the
    /// reference time never decreases from step to step), instead of a
    /// search, a vector and a label-set lookup per step. Sorted by labels,
    /// as `eval_range` sorts.
    pub fn selector_range(&self, vs: &VectorSelector) -> Result<Vec<Series>> {
        let (at, offset) = (at_ms(&vs.at, self.r), offset_ms(&vs.offset));
        let steps = ((self.r.end_ms - self.r.start_ms) / self.r.step_ms.max(1) + 1) as usize;
        // One sample answers at most the steps within its lookback.
        let per_sample = (self.lookback / self.r.step_ms.max(1)) as usize + 1;
        let mut out = Vec::new();
        let mut total = 0usize;
        for l in self.loaded(vs) {
            let pts = &l.points;
            let mut points = Vec::with_capacity(steps.min(pts.len().saturating_mul(per_sample)));
            let mut i = 0;
            let mut t = self.r.start_ms;
            let mut step = 0usize;
            while t <= self.r.end_ms {
                let rt = at.unwrap_or(t) - offset;
                while i < pts.len() && pts[i].0 <= rt {
                    i += 1;
                }
                if let Some(&(pt, pv)) = i.checked_sub(1).map(|k| &pts[k]) {
                    if pt > rt - self.lookback && !is_stale(pv) {
                        points.push((t, pv));
                    }
                }
                t += self.r.step_ms;
                step += 1;
                // A step here is a few comparisons: reading the clock at
                // each was a tenth of the time.
                if step.is_multiple_of(1024) {
                    self.check_deadline()?;
                }
            }
            total += points.len();
            if total > self.max_points {
                return Err(self.too_many_points());
            }
            if !points.is_empty() {
                out.push(Series {
                    metric: l.metric.clone(),
                    points,
                });
            }
        }
        self.check_deadline()?;
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(out)
    }

    pub fn select_instant(&self, vs: &VectorSelector, t: i64) -> Vec<Sample> {
        self.select_instant_at(vs, t, false)
    }

    /// Borrowed windows (ref - range, ref] per series, stale markers
    /// removed; series with an empty window are skipped.
    pub fn windows(
        &self,
        vs: &VectorSelector,
        range: i64,
        t: i64,
    ) -> Vec<(&Metric, &[(i64, f64)])> {
        let rt = self.ref_time(vs, t);
        self.loaded(vs)
            .iter()
            .filter_map(|l| {
                let c = l.clean();
                let lo = c.partition_point(|p| p.0 <= rt - range);
                let hi = c.partition_point(|p| p.0 <= rt);
                (hi > lo).then(|| (&l.metric, &c[lo..hi]))
            })
            .collect()
    }

    /// Owned copies of [`Self::windows`].
    pub fn select_range(&self, vs: &VectorSelector, range: i64, t: i64) -> Vec<Series> {
        self.windows(vs, range, t)
            .into_iter()
            .map(|(m, pts)| Series {
                metric: m.clone(),
                points: pts.to_vec(),
            })
            .collect()
    }

    /// Calls `f(metric, window, range_start, range_end)` for each series of
    /// a range-vector argument, without copying a matrix selector's data.
    pub fn each_window(
        &self,
        e: &Expr,
        t: i64,
        mut f: impl FnMut(&Metric, &[(i64, f64)], i64, i64),
    ) -> Result<()> {
        match e {
            Expr::MatrixSelector(ms) => {
                let range = ms.range.as_millis() as i64;
                let rt = self.ref_time(&ms.vs, t);
                for (m, pts) in self.windows(&ms.vs, range, t) {
                    f(m, pts, rt - range, rt);
                }
                Ok(())
            }
            Expr::Paren(p) => self.each_window(&p.expr, t, f),
            other => {
                let (series, start, end) = self.matrix_arg(other, t)?;
                for s in &series {
                    f(&s.metric, &s.points, start, end);
                }
                Ok(())
            }
        }
    }
}
