//! Rate limits per client address, as token buckets: every request takes one token of its client's
//! bucket (a burst of 200, refilled at 20 a second), and every request with a missing or unknown
//! token, or a failed sign-in, takes one of a second bucket (a burst of 20, refilled one every
//! three seconds) that, once empty, refuses even a good token for a while: guessing tokens is
//! slow. A refused request is 429 with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub struct Limiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl Limiter {
    pub fn new(burst: f64, per_second: f64) -> Limiter {
        Limiter {
            burst,
            per_second,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The requests of one client.
    pub fn requests() -> Limiter {
        Limiter::new(200.0, 20.0)
    }

    /// Failed authentications of one client.
    pub fn failures() -> Limiter {
        Limiter::new(20.0, 1.0 / 3.0)
    }

    /// The bucket of `ip` as it is at `now`, refilled.
    fn level(&self, map: &mut HashMap<IpAddr, (f64, Instant)>, ip: IpAddr, now: Instant) -> f64 {
        let (tokens, at) = map.get(&ip).copied().unwrap_or((self.burst, now));
        let level =
            (tokens + now.duration_since(at).as_secs_f64() * self.per_second).min(self.burst);
        if map.len() > 10_000 {
            // Clients long gone have full buckets: forget them.
            let (burst, rate) = (self.burst, self.per_second);
            map.retain(|_, (t, a)| *t + now.duration_since(*a).as_secs_f64() * rate < burst);
        }
        level
    }

    /// Seconds until `ip` may send again; 0 when it may now.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> u64 {
        let mut map = self.buckets.lock().expect("limits");
        let level = self.level(&mut map, ip, now);
        if level >= 1.0 {
            0
        } else {
            ((1.0 - level) / self.per_second).ceil().max(1.0) as u64
        }
    }

    /// Takes one token of `ip`'s bucket: Err(seconds to wait) when there is none.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut map = self.buckets.lock().expect("limits");
        let level = self.level(&mut map, ip, now);
        if level < 1.0 {
            map.insert(ip, (level, now));
            return Err(((1.0 - level) / self.per_second).ceil().max(1.0) as u64);
        }
        map.insert(ip, (level - 1.0, now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_allowed_then_the_rate_and_each_client_has_its_own_bucket() {
        let l = Limiter::new(3.0, 1.0);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        let t = Instant::now();
        assert!((0..3).all(|_| l.take(a, t).is_ok()));
        assert_eq!(l.take(a, t), Err(1));
        assert_eq!(l.wait(a, t), 1);
        assert!(l.take(b, t).is_ok(), "another client is not held back");
        assert!(l.take(a, t + Duration::from_millis(1000)).is_ok());
        assert!(l.take(a, t + Duration::from_millis(1000)).is_err());
        assert_eq!(l.wait(a, t + Duration::from_secs(60)), 0);
    }

    #[test]
    fn the_wait_of_a_slow_bucket_is_whole_seconds() {
        let l = Limiter::new(1.0, 1.0 / 3.0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t = Instant::now();
        assert!(l.take(ip, t).is_ok());
        assert_eq!(l.take(ip, t), Err(3));
    }
}
