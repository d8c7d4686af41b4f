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
        assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
    }
}
