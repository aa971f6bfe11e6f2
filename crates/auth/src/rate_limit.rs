//! Rate limits as GCRA (the generic cell rate algorithm): a limit of `count` per `per` allows
//! a burst of `count`, then one more every `per / count`. The whole state of a bucket is one
//! number, its theoretical arrival time, so a bucket is one key in the store (Redis) or one
//! map entry (embedded), and the check-and-update is atomic in either.

/// `count` events per `per_ms` milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per_ms: i64,
}

impl RateLimit {
    /// Microseconds between events once the burst is spent.
    pub fn emission_interval_us(&self) -> i64 {
        self.per_ms.saturating_mul(1000) / i64::from(self.count.max(1))
    }

    /// `"10/1m"`-style text for messages and docs.
    pub fn describe(&self) -> String {
        format!("{} per {} s", self.count, self.per_ms / 1000)
    }
}

/// The outcome of one GCRA step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gcra {
    /// Allowed; the bucket's new theoretical arrival time (µs) to store when committing.
    Allowed { new_tat_us: i64 },
    /// Refused; how long until one more event would be allowed.
    Limited { retry_after_ms: i64 },
}

/// One GCRA step at `now_us` for a bucket whose stored arrival time is `tat_us`. The Redis
/// script in `store::redis` is this same arithmetic.
pub fn gcra(tat_us: Option<i64>, now_us: i64, limit: &RateLimit) -> Gcra {
    let interval = limit.emission_interval_us();
    let tat = tat_us.map_or(now_us, |t| t.max(now_us));
    let new_tat = tat.saturating_add(interval);
    let allow_at = new_tat.saturating_sub(limit.per_ms.saturating_mul(1000));
    if now_us < allow_at {
        // allow_at > now_us here, so this rounds a positive wait up to whole milliseconds.
        Gcra::Limited {
            retry_after_ms: (allow_at - now_us + 999) / 1000,
        }
    } else {
        Gcra::Allowed {
            new_tat_us: new_tat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_PER_MINUTE: RateLimit = RateLimit {
        count: 10,
        per_ms: 60_000,
    };

    fn run(limit: &RateLimit, times_ms: &[i64]) -> Vec<bool> {
        let mut tat = None;
        times_ms
            .iter()
            .map(|&t| match gcra(tat, t * 1000, limit) {
                Gcra::Allowed { new_tat_us } => {
                    tat = Some(new_tat_us);
                    true
                }
                Gcra::Limited { .. } => false,
            })
            .collect()
    }

    #[test]
    fn a_burst_of_count_is_allowed_then_one_per_interval() {
        let at_once = run(&TEN_PER_MINUTE, &[0; 11]);
        assert_eq!(at_once.iter().filter(|a| **a).count(), 10);
        assert!(!at_once[10]);
        // 6 s later one more cell has been earned, not two.
        let mut times = vec![0; 10];
        times.extend([6_000, 6_000]);
        assert_eq!(run(&TEN_PER_MINUTE, &times)[10..], [true, false]);
    }

    #[test]
    fn the_wait_is_reported_exactly() {
        let mut tat = None;
        for _ in 0..10 {
            if let Gcra::Allowed { new_tat_us } = gcra(tat, 0, &TEN_PER_MINUTE) {
                tat = Some(new_tat_us);
            }
        }
        assert_eq!(
            gcra(tat, 0, &TEN_PER_MINUTE),
            Gcra::Limited {
                retry_after_ms: 6_000
            }
        );
        assert_eq!(
            gcra(tat, 5_999_000, &TEN_PER_MINUTE),
            Gcra::Limited { retry_after_ms: 1 }
        );
        assert!(matches!(
            gcra(tat, 6_000_000, &TEN_PER_MINUTE),
            Gcra::Allowed { .. }
        ));
    }
}
