//! Build times: RFC 3339 text for the manifest and DOS times for FAT
//! entries, both in UTC, from Unix seconds (no time zone database needed).

/// (year, month, day, hour, minute, second) in UTC.
pub fn civil(unix: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Days to civil date: Howard Hinnant's algorithm (public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// `2026-11-22T05:29:52Z`
pub fn rfc3339(unix: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// A FAT time provider that always answers the build time, so every file
/// on the stick carries it (clamped to FAT's 1980–2107 range).
#[derive(Debug)]
pub(crate) struct FixedTime(fatfs::DateTime);

impl FixedTime {
    /// Leaked on purpose: `fatfs` 0.3 wants a `&'static` provider, and one
    /// tiny allocation per built stick is cheaper than global state.
    pub(crate) fn leak(unix: i64) -> &'static FixedTime {
        let (y, mo, d, h, mi, s) = civil(unix.clamp(315_532_800, 4_354_819_199));
        let date = fatfs::Date {
            year: y as u16,
            month: mo as u16,
            day: d as u16,
        };
        let time = fatfs::Time {
            hour: h as u16,
            min: mi as u16,
            sec: s as u16,
            millis: 0,
        };
        Box::leak(Box::new(FixedTime(fatfs::DateTime { date, time })))
    }
}

impl fatfs::TimeProvider for FixedTime {
    fn get_current_date(&self) -> fatfs::Date {
        self.0.date
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_325_392), "2026-11-22T05:29:52Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }
}
