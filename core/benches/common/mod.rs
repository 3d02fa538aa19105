//! What the core's bench binaries share.

/// The `p` quantile (0..=1) of `v`, sorting it in place.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}
