//! The one font the plots draw with, registered with plotters once per
//! process.

use std::sync::OnceLock;

use plotters::prelude::*;

use crate::report::FontError;

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

/// Registers the font once per process; the error says how to fix it.
pub(super) fn font() -> Result<(), FontError> {
    static FONT: OnceLock<Result<(), FontError>> = OnceLock::new();
    FONT.get_or_init(|| {
        let chosen = std::env::var("SWEEP_FONT").ok();
        let candidates: Vec<String> = chosen
            .clone()
            .into_iter()
            .chain(FONT_PATHS.iter().map(|p| p.to_string()))
            .collect();
        for path in &candidates {
            if let Ok(bytes) = std::fs::read(path) {
                // plotters keeps fonts for the life of the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                    .map_err(|_| FontError::NotTrueType(path.clone()));
            }
            if chosen.as_deref() == Some(path.as_str()) {
                return Err(FontError::Unreadable(path.clone()));
            }
        }
        Err(FontError::Missing {
            looked: FONT_PATHS.join(", "),
        })
    })
    .clone()
}
