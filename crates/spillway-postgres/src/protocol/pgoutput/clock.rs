//! The PostgreSQL epoch (2000-01-01 00:00:00 UTC) and conversions between wall-clock time
//! and the protocol's timestamps, microseconds since that epoch.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the Unix epoch to the PostgreSQL epoch, 2000-01-01 00:00:00 UTC.
pub const PG_EPOCH_UNIX_SECS: u64 = 946_684_800;

/// Converts a wall-clock time to microseconds since the PostgreSQL epoch.
///
/// Times before the PostgreSQL epoch give negative values; times out of the `i64` range
/// saturate.
pub fn system_time_to_pg_micros(t: SystemTime) -> i64 {
    let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
    match t.duration_since(epoch) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros())
            .map(|v| -v)
            .unwrap_or(i64::MIN),
    }
}

/// Converts microseconds since the PostgreSQL epoch to a wall-clock time.
pub fn pg_micros_to_system_time(us: i64) -> SystemTime {
    let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
    if us >= 0 {
        epoch + Duration::from_micros(us as u64)
    } else {
        epoch - Duration::from_micros(us.unsigned_abs())
    }
}

/// The current time in microseconds since the PostgreSQL epoch.
pub fn pg_now_micros() -> i64 {
    system_time_to_pg_micros(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_epoch_conversions() {
        let epoch = UNIX_EPOCH + Duration::from_secs(PG_EPOCH_UNIX_SECS);
        assert_eq!(system_time_to_pg_micros(epoch), 0);
        assert_eq!(
            system_time_to_pg_micros(epoch + Duration::from_micros(1_500_000)),
            1_500_000
        );
        assert_eq!(system_time_to_pg_micros(UNIX_EPOCH), -946_684_800_000_000);
        for us in [0, 1, -1, 747_000_000_123_456, -946_684_800_000_000] {
            assert_eq!(system_time_to_pg_micros(pg_micros_to_system_time(us)), us);
        }
        assert!(pg_now_micros() > 747_000_000_000_000);
    }
}
