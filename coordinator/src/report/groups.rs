//! Rows grouped by key columns with Polars' stable group-by, and the
//! statistics of a column over each group.
//!
//! The reports need only counts, means and standard deviations per cell,
//! so they use Polars' eager group-by and compute those here rather than
//! through its lazy engine, whose crates (plan, expr, stream, mem-engine)
//! were half of a fresh release build's critical path.

use polars::prelude::*;

use super::ReportError;

/// The row indices of each distinct key of `by`, groups in the order their
/// keys first appear and rows ascending within a group (nulls are a key).
pub(crate) fn group_rows(df: &DataFrame, by: &[&str]) -> Result<Vec<Vec<usize>>, ReportError> {
    let grouped = df.group_by_stable(by.iter().copied())?;
    Ok(grouped
        .get_groups()
        .iter()
        .map(|g| match g {
            GroupsIndicator::Idx((_, rows)) => rows.iter().map(|&i| i as usize).collect(),
            GroupsIndicator::Slice([first, len]) => {
                (first as usize..(first + len) as usize).collect()
            }
        })
        .collect())
}

/// Count of non-null values, mean, and sample standard deviation (ddof 1)
/// of `values` at `rows`, as Polars' `count`, `mean` and `std(1)` give
/// them: no mean without a value, no deviation below two.
pub(crate) fn summary(values: &[Option<f64>], rows: &[usize]) -> (u32, Option<f64>, Option<f64>) {
    let present: Vec<f64> = rows.iter().filter_map(|&i| values[i]).collect();
    let n = present.len();
    if n == 0 {
        return (0, None, None);
    }
    let mean = present.iter().sum::<f64>() / n as f64;
    let std = (n >= 2).then(|| {
        let ss: f64 = present.iter().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    (n as u32, Some(mean), std)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_first_appearance_and_nulls_are_a_key() {
        let df = DataFrame::new_infer_height(vec![
            Column::new("d".into(), ["b", "a", "b", "a", "b"]),
            Column::new(
                "alpha".into(),
                [None, Some(0.5), None, Some(0.5), Some(0.1)],
            ),
        ])
        .unwrap();
        let groups = group_rows(&df, &["d", "alpha"]).unwrap();
        assert_eq!(groups, vec![vec![0, 2], vec![1, 3], vec![4]]);
    }

    #[test]
    fn summaries_skip_nulls_and_need_two_values_for_a_deviation() {
        let v = [Some(1.0), None, Some(3.0), Some(4.0)];
        let (n, mean, std) = summary(&v, &[0, 1, 2]);
        assert_eq!((n, mean), (2, Some(2.0)));
        assert!((std.unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(summary(&v, &[3]), (1, Some(4.0), None));
        assert_eq!(summary(&v, &[1]), (0, None, None));
    }
}
