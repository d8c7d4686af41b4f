//! Floating-point mode of the job thread.
//!
//! Adam's moments of dead ReLU units decay geometrically into the subnormal
//! range, where x86 arithmetic is about a hundred times slower: profiles
//! showed the optimizer at half of a step, with the step time swinging 4×.
//! TensorFlow, which produced the published numbers, flushes subnormals to
//! zero on its CPU threads; so do we, on the thread that runs a job.

/// Sets flush-to-zero and denormals-are-zero for the calling thread.
pub fn flush_subnormals() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads and writes this thread's MXCSR only; FTZ (bit 15) and
    // DAZ (bit 6) change rounding of subnormals, nothing else.
    unsafe {
        let mut csr: u32 = 0;
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack));
        csr |= (1 << 15) | (1 << 6);
        std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack));
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: sets the FZ bit (24) of this thread's FPCR only.
    unsafe {
        let mut fpcr: u64;
        std::arch::asm!("mrs {}, fpcr", out(reg) fpcr);
        fpcr |= 1 << 24;
        std::arch::asm!("msr fpcr, {}", in(reg) fpcr);
    }
}

/// A rayon pool of one thread in this mode: where a job runs.
pub fn job_pool() -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .start_handler(|_| flush_subnormals())
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn subnormals_flush_to_zero_in_a_job_pool() {
        let pool = super::job_pool().unwrap();
        let tiny = std::hint::black_box(f32::MIN_POSITIVE);
        let product = pool.install(|| std::hint::black_box(tiny) * std::hint::black_box(0.5f32));
        assert_eq!(product, 0.0);
    }
}
