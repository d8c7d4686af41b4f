//! The test-set metrics of method.md: prediction quality of `f`, and how
//! faithfully `g` reproduces `f`.

/// Mean squared error.
pub fn mse(pred: &[f32], y: &[f32]) -> f64 {
    pred.iter()
        .zip(y)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum::<f64>()
        / y.len() as f64
}

/// Coefficient of determination of `pred` for `y`.
pub fn r2(pred: &[f32], y: &[f32]) -> f64 {
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    let ss_res: f64 = pred
        .iter()
        .zip(y)
        .map(|(&p, &t)| (f64::from(t) - f64::from(p)).powi(2))
        .sum();
    let ss_tot: f64 = y.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

/// Accuracy and F1 of the positive class at threshold 0.5 (Keras' `p > 0.5`).
pub fn accuracy_f1(prob: &[f32], y: &[f32]) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_, mut correct) = (0usize, 0usize, 0usize, 0usize);
    for (&p, &t) in prob.iter().zip(y) {
        let predicted = p > 0.5;
        let actual = t > 0.5;
        correct += usize::from(predicted == actual);
        match (predicted, actual) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let f1 = if tp == 0 {
        0.0
    } else {
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    };
    (correct as f64 / y.len() as f64, f1)
}

/// The authors' code's accuracy and F1: the positive class at `p >= 0.5`,
/// and F1 as the mean of both classes' F1 (scikit-learn's `average="macro"`,
/// 0 for a class with no true, false or missed positive).
pub fn accuracy_macro_f1(prob: &[f32], y: &[f32]) -> (f64, f64) {
    let mut counts = [[0usize; 2]; 2]; // [actual][predicted]
    for (&p, &t) in prob.iter().zip(y) {
        counts[usize::from(t > 0.5)][usize::from(p >= 0.5)] += 1;
    }
    let f1 = |c: usize| {
        let tp = counts[c][c];
        let fp = counts[1 - c][c];
        let fn_ = counts[c][1 - c];
        let denominator = 2 * tp + fp + fn_;
        if denominator == 0 {
            0.0
        } else {
            2.0 * tp as f64 / denominator as f64
        }
    };
    let correct = counts[0][0] + counts[1][1];
    (correct as f64 / y.len() as f64, (f1(0) + f1(1)) / 2.0)
}

/// Global fidelity: mean of `(g − f)²`.
pub fn gf(f: &[f32], g: &[f32]) -> f64 {
    mse(g, f)
}

/// R² of `g` as a predictor of `f`.
pub fn r2_fg(f: &[f32], g: &[f32]) -> f64 {
    r2(g, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fidelity_metrics_on_hand_made_inputs() {
        let f = [1.0, 2.0, 3.0, 4.0];
        let g = [1.5, 2.0, 2.0, 4.0];
        // Squared differences 0.25, 0, 1, 0.
        assert_eq!(gf(&f, &g), 0.3125);
        // Σ(f − g)² = 1.25, Σ(f − 2.5)² = 5.
        assert_eq!(r2_fg(&f, &g), 0.75);
        assert_eq!(gf(&f, &f), 0.0);
        assert_eq!(r2_fg(&f, &f), 1.0);
    }

    #[test]
    fn classification_metrics_on_hand_made_inputs() {
        let p = [0.9, 0.2, 0.6, 0.4, 0.5];
        let y = [1.0, 0.0, 0.0, 1.0, 1.0];
        // Predicted 1,0,1,0,0: tp 1, fp 1, fn 2, correct 2.
        let (acc, f1) = accuracy_f1(&p, &y);
        assert_eq!(acc, 0.4);
        assert!((f1 - 0.4).abs() < 1e-12);
        assert_eq!(mse(&[0.0, 2.0], &[1.0, 1.0]), 1.0);
        // At `>= 0.5` the fifth row (p = 0.5) is predicted 1: tp 2, fp 1,
        // fn 1, tn 1; F1 of 1 is 4/6, of 0 is 2/4 (scikit-learn: 0.58333).
        let (acc, f1) = accuracy_macro_f1(&p, &y);
        assert_eq!(acc, 0.6);
        assert!((f1 - (4.0 / 6.0 + 0.5) / 2.0).abs() < 1e-12, "{f1}");
        assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
    }
}
