//! Parsers of the original distribution files into a [`RawTable`]. Each
//! keeps the file's own quirks (Adult's test header and dotted labels, Auto
//! MPG's tab before the name, ...) here, so preprocessing is shared.

use std::path::{Path, PathBuf};

use sweep_shared::DatasetName;

use super::prep::{Partition, RawTable};
use super::DataError;
use sweep_shared::registry as files;

/// The paper's split: 80/20 with split seed 42.
const SHUFFLED: Partition = Partition::Shuffled {
    test_fraction: 0.2,
    seed: 42,
};

pub fn parse(
    name: DatasetName,
    dir: &Path,
    contents: &[Vec<u8>],
) -> Result<(RawTable, Partition), DataError> {
    let paths: Vec<PathBuf> = files::files(name)
        .iter()
        .map(|f| dir.join(f.path))
        .collect();
    let text = |i: usize| {
        std::str::from_utf8(&contents[i]).map_err(|e| DataError::Invalid {
            path: paths[i].clone(),
            message: format!("not UTF-8 text: {e}"),
        })
    };
    match name {
        DatasetName::Wine => Ok((wine(&paths[0], text(0)?)?, SHUFFLED)),
        DatasetName::Housing => Ok((housing(&paths[0], text(0)?)?, SHUFFLED)),
        DatasetName::AutoMpg => Ok((auto_mpg(&paths[0], text(0)?)?, SHUFFLED)),
        DatasetName::Titanic => Ok((titanic(&paths[0], text(0)?)?, SHUFFLED)),
        DatasetName::Adult => {
            let mut table = adult_table();
            adult(&mut table, &paths[0], text(0)?, false)?;
            let n_train = table.target.len();
            adult(&mut table, &paths[1], text(1)?, true)?;
            Ok((table, Partition::Given { n_train }))
        }
        DatasetName::Friedman1 | DatasetName::Moons => {
            unreachable!("built-in datasets have no files")
        }
    }
}

fn err(path: &Path, line: usize, message: impl Into<String>) -> DataError {
    DataError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn number(path: &Path, line: usize, column: &str, field: &str) -> Result<f64, DataError> {
    let v: f64 = field.trim().parse().map_err(|_| {
        err(
            path,
            line,
            format!("column `{column}`: `{field}` is not a number"),
        )
    })?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(err(
            path,
            line,
            format!("column `{column}`: `{field}` is not finite"),
        ))
    }
}

/// A number where `?` marks a missing value.
fn maybe_number(
    path: &Path,
    line: usize,
    column: &str,
    field: &str,
) -> Result<Option<f64>, DataError> {
    match field.trim() {
        "?" => Ok(None),
        f => number(path, line, column, f).map(Some),
    }
}

fn expect_fields(path: &Path, line: usize, got: usize, want: usize) -> Result<(), DataError> {
    if got == want {
        Ok(())
    } else {
        Err(err(
            path,
            line,
            format!("expected {want} fields, found {got}"),
        ))
    }
}

fn wine(path: &Path, text: &str) -> Result<RawTable, DataError> {
    let mut table = RawTable::new(DatasetName::Wine.input_columns(), &[]);
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.contains("quality") => {}
        _ => return Err(err(path, 1, "expected the header line naming `quality`")),
    }
    for (i, line) in lines {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(';').collect();
        expect_fields(path, n, fields.len(), 12)?;
        let mut row = Vec::with_capacity(11);
        for (col, field) in DatasetName::Wine.input_columns().iter().zip(&fields) {
            row.push(Some(number(path, n, col, field)?));
        }
        table.push(row, vec![], number(path, n, "quality", fields[11])?);
    }
    Ok(table)
}

fn housing(path: &Path, text: &str) -> Result<RawTable, DataError> {
    const RAW: [&str; 9] = [
        "longitude",
        "latitude",
        "housingMedianAge",
        "totalRooms",
        "totalBedrooms",
        "population",
        "households",
        "medianIncome",
        "medianHouseValue",
    ];
    let mut table = RawTable::new(DatasetName::Housing.input_columns(), &[]);
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        expect_fields(path, n, fields.len(), 9)?;
        let mut v = [0.0; 9];
        for (k, field) in fields.iter().enumerate() {
            v[k] = number(path, n, RAW[k], field)?;
        }
        let [lon, lat, age, rooms, bedrooms, population, households, income, value] = v;
        if households <= 0.0 {
            return Err(err(path, n, "column `households`: must be positive"));
        }
        // scikit-learn's `fetch_california_housing` features.
        let row = [
            income,
            age,
            rooms / households,
            bedrooms / households,
            population,
            population / households,
            lat,
            lon,
        ];
        table.push(row.map(Some).to_vec(), vec![], value / 100_000.0);
    }
    Ok(table)
}

fn auto_mpg(path: &Path, text: &str) -> Result<RawTable, DataError> {
    const NUMERIC: [&str; 6] = [
        "cylinders",
        "displacement",
        "horsepower",
        "weight",
        "acceleration",
        "model year",
    ];
    let mut table = RawTable::new(&NUMERIC, &["origin"]);
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (values, _car_name) = line
            .split_once('\t')
            .ok_or_else(|| err(path, n, "expected a TAB before the car name"))?;
        let fields: Vec<&str> = values.split_whitespace().collect();
        expect_fields(path, n, fields.len(), 8)?;
        let mpg = number(path, n, "mpg", fields[0])?;
        // The 6 rows with unknown horsepower are dropped, as in the paper.
        let Some(horsepower) = maybe_number(path, n, "horsepower", fields[3])? else {
            continue;
        };
        let mut row = Vec::with_capacity(6);
        for (k, col) in NUMERIC.iter().enumerate() {
            let v = if k == 2 {
                horsepower
            } else {
                number(path, n, col, fields[k + 1])?
            };
            row.push(Some(v));
        }
        let origin = fields[7];
        if !matches!(origin, "1" | "2" | "3") {
            return Err(err(
                path,
                n,
                format!("column `origin`: `{origin}` is not 1, 2 or 3"),
            ));
        }
        table.push(row, vec![Some(origin.to_string())], mpg);
    }
    Ok(table)
}

fn titanic(path: &Path, text: &str) -> Result<RawTable, DataError> {
    const HEADER: [&str; 14] = [
        "pclass",
        "survived",
        "name",
        "sex",
        "age",
        "sibsp",
        "parch",
        "ticket",
        "fare",
        "cabin",
        "embarked",
        "boat",
        "body",
        "home.dest",
    ];
    let mut table = RawTable::new(
        &["age", "sibsp", "parch", "fare"],
        &["pclass", "sex", "embarked"],
    );
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    for (i, record) in reader.records().enumerate() {
        let n = i + 1;
        let record = record.map_err(|e| err(path, n, e.to_string()))?;
        expect_fields(path, n, record.len(), 14)?;
        if i == 0 {
            if record.iter().ne(HEADER) {
                return Err(err(
                    path,
                    1,
                    format!("expected the header `{}`", HEADER.join(",")),
                ));
            }
            continue;
        }
        let f = |name: &str| record[HEADER.iter().position(|h| *h == name).unwrap()].trim();
        let category = |name: &str| match f(name) {
            "?" => None,
            v => Some(v.to_string()),
        };
        let survived = match f("survived") {
            "0" => 0.0,
            "1" => 1.0,
            other => {
                return Err(err(
                    path,
                    n,
                    format!("column `survived`: `{other}` is not 0 or 1"),
                ))
            }
        };
        let numeric = vec![
            maybe_number(path, n, "age", f("age"))?,
            Some(number(path, n, "sibsp", f("sibsp"))?),
            Some(number(path, n, "parch", f("parch"))?),
            maybe_number(path, n, "fare", f("fare"))?,
        ];
        let pclass = f("pclass");
        if !matches!(pclass, "1" | "2" | "3") {
            return Err(err(
                path,
                n,
                format!("column `pclass`: `{pclass}` is not 1, 2 or 3"),
            ));
        }
        let categorical = vec![
            Some(pclass.to_string()),
            category("sex"),
            category("embarked"),
        ];
        if categorical[1].is_none() {
            return Err(err(path, n, "column `sex`: missing"));
        }
        table.push(numeric, categorical, survived);
    }
    Ok(table)
}

const ADULT_NUMERIC: [usize; 6] = [0, 2, 4, 10, 11, 12];
const ADULT_CATEGORICAL: [usize; 8] = [1, 3, 5, 6, 7, 8, 9, 13];

fn adult_table() -> RawTable {
    let numeric: Vec<&str> = ADULT_NUMERIC
        .iter()
        .map(|&i| DatasetName::Adult.input_columns()[i])
        .collect();
    let categorical: Vec<&str> = ADULT_CATEGORICAL
        .iter()
        .map(|&i| DatasetName::Adult.input_columns()[i])
        .collect();
    RawTable {
        file_order: DatasetName::Adult.input_columns()[..14]
            .iter()
            .map(|c| c.to_string())
            .collect(),
        ..RawTable::new(&numeric, &categorical)
    }
}

fn adult(table: &mut RawTable, path: &Path, text: &str, is_test: bool) -> Result<(), DataError> {
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if is_test && i == 0 {
            if !line.starts_with('|') {
                return Err(err(path, 1, "expected the `|1x3 Cross validator` line"));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        expect_fields(path, n, fields.len(), 15)?;
        let mut numeric = Vec::with_capacity(6);
        for &k in &ADULT_NUMERIC {
            numeric.push(Some(number(
                path,
                n,
                DatasetName::Adult.input_columns()[k],
                fields[k],
            )?));
        }
        let categorical = ADULT_CATEGORICAL
            .iter()
            .map(|&k| match fields[k] {
                "?" => None,
                v => Some(v.to_string()),
            })
            .collect();
        // The test file's labels end in a period.
        let label = match fields[14].strip_suffix('.').unwrap_or(fields[14]) {
            ">50K" => 1.0,
            "<=50K" => 0.0,
            other => {
                return Err(err(
                    path,
                    n,
                    format!("income label `{other}` is neither >50K nor <=50K"),
                ))
            }
        };
        table.push(numeric, categorical, label);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(result: Result<RawTable, DataError>) -> (usize, String) {
        match result {
            Err(DataError::Parse { line, message, .. }) => (line, message),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn malformed_rows_name_the_line_and_column() {
        let p = Path::new("wine-quality/winequality-red.csv");
        let header = DatasetName::Wine.input_columns().join(";") + ";\"quality\"";
        let good = "7.4;0.7;0;1.9;0.076;11;34;0.9978;3.51;0.56;9.4;5";
        let text =
            format!("{header}\n{good}\n7.4;0.7;zero;1.9;0.076;11;34;0.9978;3.51;0.56;9.4;5\n");
        let (line, message) = parse_error(wine(p, &text));
        assert_eq!(line, 3);
        assert!(
            message.contains("citric acid") && message.contains("zero"),
            "{message}"
        );

        let (line, message) = parse_error(wine(p, &format!("{header}\n{good}\n1;2;3\n")));
        assert_eq!((line, message.as_str()), (3, "expected 12 fields, found 3"));

        let p = Path::new("auto-mpg/auto-mpg.data");
        let (line, message) = parse_error(auto_mpg(
            p,
            "18.0 8 307.0 130.0 3504. 12.0 70 1 \"no tab\"\n",
        ));
        assert_eq!(line, 1);
        assert!(message.contains("TAB"), "{message}");
    }

    #[test]
    fn adult_labels_with_and_without_the_period() {
        let mut t = adult_table();
        let row = "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, Male, 2174, 0, 40, ?, ";
        adult(
            &mut t,
            Path::new("adult.data"),
            &format!("{row}>50K\n\n"),
            false,
        )
        .unwrap();
        adult(
            &mut t,
            Path::new("adult.test"),
            &format!("|1x3 Cross validator\n{row}<=50K.\n"),
            true,
        )
        .unwrap();
        assert_eq!(t.target, [1.0, 0.0]);
        assert_eq!(t.categorical[0][7], None, "`?` is missing");
        let err = adult(
            &mut t,
            Path::new("adult.test"),
            &format!("|x\n{row}maybe\n"),
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("adult.test:2: income label `maybe`"),
            "{err}"
        );
    }
}
