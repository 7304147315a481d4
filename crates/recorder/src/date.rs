//! UTC calendar dates without a date library (Howard Hinnant's algorithm).

/// The UTC (year, month, day) of an epoch-milliseconds instant.
pub(crate) fn civil_from_epoch_ms(ms: i64) -> (i64, u32, u32) {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_epoch_ms;

    #[test]
    fn known_dates() {
        assert_eq!(civil_from_epoch_ms(0), (1970, 1, 1));
        assert_eq!(civil_from_epoch_ms(-1), (1969, 12, 31));
        // 2024-02-29T23:59:59.999Z and the next millisecond.
        assert_eq!(civil_from_epoch_ms(1_709_251_199_999), (2024, 2, 29));
        assert_eq!(civil_from_epoch_ms(1_709_251_200_000), (2024, 3, 1));
        // 2000-12-31T12:00:00Z
        assert_eq!(civil_from_epoch_ms(978_264_000_000), (2000, 12, 31));
        // extremes do not panic
        let _ = civil_from_epoch_ms(i64::MAX);
        let _ = civil_from_epoch_ms(i64::MIN);
    }
}
