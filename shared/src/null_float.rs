//! Reading back floats that were not finite when written.
//!
//! JSON has no NaN or infinity, so serde_json writes them as `null`; a
//! metric that is legitimately undefined (R² of a constant prediction)
//! must still make a result that parses, or the job is refused and fails
//! later as "lease expired". These read `null` as NaN, which the reports
//! turn into a null cell (never into a mean).

use serde::{Deserialize, Deserializer};

/// An `f64` field that may be `null`.
pub fn nan<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A `Vec<f64>` field whose elements may be `null`.
pub fn nans<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(Vec::<Option<f64>>::deserialize(d)?
        .into_iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct M {
        #[serde(deserialize_with = "super::nan")]
        r2: f64,
        #[serde(deserialize_with = "super::nans")]
        q: Vec<f64>,
    }

    #[test]
    fn a_non_finite_float_round_trips_as_nan() {
        let json = serde_json::to_string(&M {
            r2: f64::NAN,
            q: vec![1.0, f64::INFINITY],
        })
        .unwrap();
        assert_eq!(json, r#"{"r2":null,"q":[1.0,null]}"#);
        let back: M = serde_json::from_str(&json).unwrap();
        assert!(back.r2.is_nan() && back.q[0] == 1.0 && back.q[1].is_nan());
    }
}
