//! Durations that come from outside, made safe to use: the user's are validated (a clear
//! error naming the flag or key beats a panic or a timeout that never fires), a peer's are
//! clamped (a server, authorization server or model API does not get to crash us or make us
//! wait for ever). `Duration::from_secs_f64` panics on infinite, negative or huge values, so
//! every number from outside goes through here first. A leaf module.

use std::time::Duration;

/// The longest timeout a user may set, in seconds: past a day, a timeout is a typo.
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// The longest `watch --for`, in seconds (a year): watches may be long, not endless by accident.
pub const MAX_WATCH_SECS: f64 = 365.0 * 86_400.0;

/// The longest a token may be trusted without a refresh, in seconds (ten years): a larger
/// `expires_in` is clamped to it, so adding it to a time can never overflow.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 10 * 365 * 86_400;

/// A user's timeout: `Some` only for a finite number of seconds above 0 and at most
/// [`MAX_TIMEOUT_SECS`].
pub fn timeout(seconds: f64) -> Option<Duration> {
    within(seconds, MAX_TIMEOUT_SECS)
}

/// A user's number of seconds: `Some` only if finite, above 0 and at most `max`.
pub fn within(seconds: f64, max: f64) -> Option<Duration> {
    if seconds.is_finite() && seconds > 0.0 && seconds <= max {
        Duration::try_from_secs_f64(seconds).ok()
    } else {
        None
    }
}

/// The error for a user's timeout out of range, naming where it came from (`what`).
pub fn timeout_message(what: &str, seconds: f64) -> String {
    // `{:?}` keeps `1e30` short where `{}` would print thirty-one digits.
    format!(
        "{what} must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECS} (one day), \
         not {seconds:?}"
    )
}

/// Seconds a peer asked for, clamped to `0..=max`: NaN, negative and zero are no wait,
/// infinite and huge are `max`.
pub fn clamp_secs_f64(seconds: f64, max: Duration) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(seconds).map_or(max, |d| d.min(max))
}

/// A peer's whole seconds clamped to `min..=max`.
pub fn clamp_secs(seconds: u64, min: Duration, max: Duration) -> Duration {
    Duration::from_secs(seconds).clamp(min, max)
}

/// When a token that lives `lifetime` expires, received at `received` (seconds since the
/// epoch): the lifetime is clamped to [`MAX_TOKEN_LIFETIME_SECS`] and the sum saturates, so a
/// huge `expires_in` means "much later", never an overflow that reads as "already expired".
pub fn token_expiry(received: u64, lifetime: Duration) -> u64 {
    received.saturating_add(lifetime.as_secs().min(MAX_TOKEN_LIFETIME_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_timeouts_outside_a_day_or_not_positive_are_refused() {
        assert_eq!(timeout(1.5), Some(Duration::from_millis(1500)));
        assert_eq!(timeout(86_400.0), Some(Duration::from_secs(86_400)));
        for bad in [0.0, -1.0, 86_400.5, 1e30, f64::INFINITY, f64::NAN, -0.0] {
            assert_eq!(timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn peer_seconds_are_clamped() {
        let max = Duration::from_secs(60);
        assert_eq!(clamp_secs_f64(2.5, max), Duration::from_millis(2500));
        assert_eq!(clamp_secs_f64(f64::INFINITY, max), max);
        assert_eq!(clamp_secs_f64(1e20, max), max);
        assert_eq!(clamp_secs_f64(f64::NAN, max), Duration::ZERO);
        assert_eq!(clamp_secs_f64(-5.0, max), Duration::ZERO);
        assert_eq!(clamp_secs_f64(f64::NEG_INFINITY, max), Duration::ZERO);
    }

    #[test]
    fn a_huge_token_lifetime_expires_in_ten_years_not_in_the_past() {
        let now = 1_700_000_000;
        assert_eq!(
            token_expiry(now, Duration::from_secs(u64::MAX)),
            now + MAX_TOKEN_LIFETIME_SECS
        );
        assert_eq!(token_expiry(now, Duration::from_secs(60)), now + 60);
        assert_eq!(token_expiry(u64::MAX, Duration::from_secs(60)), u64::MAX);
    }

    proptest! {
        #[test]
        fn any_user_number_is_refused_or_within_a_day(seconds in any::<f64>()) {
            if let Some(d) = timeout(seconds) {
                prop_assert!(d <= Duration::from_secs(86_400));
            }
        }

        #[test]
        fn any_peer_number_is_clamped(seconds in any::<f64>(), max_secs in 0u64..1000) {
            let max = Duration::from_secs(max_secs);
            prop_assert!(clamp_secs_f64(seconds, max) <= max);
        }

        #[test]
        fn any_token_lifetime_expires_after_it_was_received(
            received in any::<u64>(),
            lifetime in any::<u64>(),
        ) {
            let at = token_expiry(received, Duration::from_secs(lifetime));
            prop_assert!(at >= received);
            prop_assert!(at - received <= MAX_TOKEN_LIFETIME_SECS);
        }
    }
}
