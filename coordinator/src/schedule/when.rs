//! When a schedule is due: its cron expression parsed in its time zone.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

use super::at_ms;
use crate::error::CoordinatorError;

/// A parsed cron expression in its time zone. Five fields (minute hour
/// day-of-month month day-of-week) as in crontab, or six with seconds
/// first.
#[derive(Debug, Clone)]
pub struct When {
    cron: Cron,
    tz: Tz,
}

impl When {
    pub fn parse(cron: &str, tz: &str) -> Result<When, CoordinatorError> {
        let parsed = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(cron)
            .map_err(|e| {
                CoordinatorError::InvalidSchedule(format!("cron: `{cron}` is not valid: {e}"))
            })?;
        let tz = Tz::from_str(tz).map_err(|_| {
            CoordinatorError::InvalidSchedule(format!(
                "tz: `{tz}` is not an IANA time zone such as UTC or Europe/Paris"
            ))
        })?;
        Ok(When { cron: parsed, tz })
    }

    /// The due times in `(after, upto]`: the latest, and how many there
    /// are (counted up to `cap`).
    pub fn due(
        &self,
        after: DateTime<Utc>,
        upto: DateTime<Utc>,
        cap: usize,
    ) -> (Option<DateTime<Utc>>, usize) {
        // croner keeps the sub-second part of the time it starts from, so
        // whole seconds go in: due times are whole seconds.
        let (after, upto) = (whole_seconds(after), whole_seconds(upto));
        if upto <= after {
            return (None, 0);
        }
        let latest = self
            .cron
            .find_previous_occurrence(&upto.with_timezone(&self.tz), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t > after);
        if latest.is_none() {
            return (None, 0);
        }
        let count = self
            .cron
            .iter_after(after.with_timezone(&self.tz))
            .take_while(|t| t.with_timezone(&Utc) <= upto)
            .take(cap)
            .count();
        (latest, count.max(1))
    }

    /// The next due time after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    at_ms(t.timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn due_times_in_a_window_give_the_latest_and_their_count() {
        let every_minute = When::parse("* * * * *", "UTC").unwrap();
        let (latest, n) =
            every_minute.due(t("2026-01-01T00:00:30Z"), t("2026-01-01T00:03:10Z"), 100);
        assert_eq!((latest, n), (Some(t("2026-01-01T00:03:00Z")), 3));
        let (latest, n) =
            every_minute.due(t("2026-01-01T00:03:00Z"), t("2026-01-01T00:03:59Z"), 100);
        assert_eq!((latest, n), (None, 0), "the slot at :03 was dealt with");
        // Found in a real run: ticks at sub-second offsets found the same
        // slot again a second later.
        let every_30s = When::parse("*/30 * * * * *", "UTC").unwrap();
        let (latest, _) = every_30s.due(
            t("2026-01-01T00:00:29.700Z"),
            t("2026-01-01T00:00:30.512Z"),
            100,
        );
        assert_eq!(latest, Some(t("2026-01-01T00:00:30Z")));
        let again = every_30s.due(
            t("2026-01-01T00:00:30.512Z"),
            t("2026-01-01T00:00:31.530Z"),
            100,
        );
        assert_eq!(again, (None, 0));
        // Nightly at 02:00 in Paris is 01:00 UTC in winter.
        let nightly = When::parse("0 2 * * *", "Europe/Paris").unwrap();
        assert_eq!(
            nightly.next_after(t("2026-01-01T00:00:00Z")),
            Some(t("2026-01-01T01:00:00Z"))
        );
        // Six fields: seconds first.
        let every_5s = When::parse("*/5 * * * * *", "UTC").unwrap();
        assert_eq!(
            every_5s
                .due(t("2026-01-01T00:00:00Z"), t("2026-01-01T00:00:12Z"), 100)
                .1,
            2
        );
    }

    #[test]
    fn bad_cron_expressions_and_zones_are_named() {
        let e = When::parse("61 * * * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("cron: `61 * * * *` is not valid"), "{e}");
        let e = When::parse("* * *", "UTC").unwrap_err().to_string();
        assert!(e.starts_with("cron: `* * *`"), "{e}");
        let e = When::parse("* * * * *", "Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tz: `Mars/Olympus`"), "{e}");
    }
}
