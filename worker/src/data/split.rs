//! The fixed 80/20 train/test split of method.md, drawn exactly as
//! scikit-learn's `train_test_split(test_size=0.2, random_state=42)` draws
//! it, so a sweep tests on the same rows as the published runs.
//!
//! That means numpy's legacy `RandomState(42).permutation(n)`: MT19937
//! seeded with `init_genrand`, then a Fisher–Yates shuffle whose bounded
//! draws use masked rejection sampling.

/// The MT19937 generator as numpy's legacy `RandomState` uses it.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// numpy's `random_interval(max)`: uniform in `0..=max` by masking and rejecting.
    fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16] {
            mask |= mask >> shift;
        }
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }
}

/// `numpy.random.RandomState(seed).permutation(n)`.
pub fn numpy_permutation(seed: u32, n: usize) -> Vec<usize> {
    let mut rng = Mt19937::new(seed);
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.interval(i as u32) as usize;
        perm.swap(i, j);
    }
    perm
}

/// Row indices `(train, test)` of scikit-learn's shuffled split.
pub fn train_test_split(n: usize, test_fraction: f64, seed: u32) -> (Vec<usize>, Vec<usize>) {
    let n_test = (test_fraction * n as f64).ceil() as usize;
    let perm = numpy_permutation(seed, n);
    let (test, train) = perm.split_at(n_test);
    (train.to_vec(), test.to_vec())
}

/// Row indices `(train, test)` of pandas' `df.sample(frac, random_state=seed)`
/// for training and `df.drop(train.index)` for testing, as the authors'
/// code splits Wine: the sample is the permutation's first `round(frac·n)`
/// rows in the permutation's order, the test rows the rest in file order.
pub fn pandas_sample_split(n: usize, frac: f64, seed: u32) -> (Vec<usize>, Vec<usize>) {
    // pandas rounds half to even; 0.8 · 1599 = 1279.2 is far from a tie.
    let n_train = (frac * n as f64).round_ties_even() as usize;
    let perm = numpy_permutation(seed, n);
    let (train, rest) = perm.split_at(n_train);
    let mut test = rest.to_vec();
    test.sort_unstable();
    (train.to_vec(), test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // First outputs of init_genrand(5489), the reference implementation's default seed.
        let mut rng = Mt19937::new(5489);
        let first: Vec<u32> = (0..3).map(|_| rng.next_u32()).collect();
        assert_eq!(first, [3_499_211_612, 581_869_302, 3_890_346_734]);
    }

    /// Indices printed by scikit-learn (`train_test_split(np.arange(n),
    /// test_size=0.2, random_state=42)`) with numpy's legacy generator.
    #[test]
    fn split_reproduces_scikit_learn_rows() {
        let (train, test) = train_test_split(1599, 0.2, 42);
        assert_eq!(test[..8], [803, 124, 350, 682, 1326, 976, 1493, 706]);
        assert_eq!(train[..8], [493, 354, 342, 834, 705, 522, 1590, 1404]);
        let (_, test) = train_test_split(392, 0.2, 42);
        assert_eq!(test[..5], [78, 274, 246, 55, 387]);
    }

    /// Indices printed by pandas 2.3.3 for the red-wine file
    /// (`validation/authors_facts.py`).
    #[test]
    fn the_authors_wine_split_is_pandas_sample() {
        let (train, test) = pandas_sample_split(1599, 0.8, 42);
        assert_eq!((train.len(), test.len()), (1279, 320));
        assert_eq!(
            train[..10],
            [803, 124, 350, 682, 1326, 976, 1493, 706, 613, 1587]
        );
        assert_eq!(train[1274..], [16, 1072, 1574, 546, 658]);
        assert_eq!(test[..10], [1, 8, 13, 14, 20, 21, 26, 34, 37, 40]);
        assert_eq!(test[315..], [1569, 1570, 1573, 1583, 1595]);
        // Keras' validation rows start at sample position 1151: row 93.
        assert_eq!(train[1151], 93);
    }

    #[test]
    fn split_sizes_follow_scikit_learn() {
        let (train, test) = train_test_split(1599, 0.2, 42);
        assert_eq!((train.len(), test.len()), (1279, 320));
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1599).collect::<Vec<_>>());
        assert_eq!(train_test_split(392, 0.2, 42).1.len(), 79);
    }
}
