//! Export of the view as a PNG: the window's next frame, read back by the renderer and
//! written by a thread of its own (encoding a 1440×900 frame takes tens of
//! milliseconds; the UI thread never waits on it). The file goes to the data
//! directory's `screenshots/`, named by environment and time.

use std::path::{Path, PathBuf};

use switchboard_core::Timestamp;

use crate::background::Spawner;

/// Asks the renderer for the next frame and writes it to `path` as a job of `jobs`;
/// its answer is `answer(the file written, or why not)`.
pub fn request<T: Send + 'static>(
    ctx: &egui::Context,
    path: PathBuf,
    jobs: Spawner<T>,
    answer: fn(Result<PathBuf, String>) -> T,
) {
    ctx.request_screenshot(move |image| {
        jobs.spawn(
            "switchboard-png",
            move || answer(write_png(&path, &image).map(|()| path)),
            move |why| answer(Err(format!("cannot write the PNG: {why}"))),
        );
    });
    ctx.request_repaint();
}

/// Where an export of `environment`'s view at `now` goes, under `dir`.
pub fn default_path(dir: &Path, environment: &str, now: Timestamp) -> PathBuf {
    let stamp = now.file_stamp();
    let env: String = environment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join("screenshots")
        .join(format!("switchboard-{env}-{stamp}.png"))
}

/// Writes `image` as an 8-bit RGBA PNG at `path` (through a temporary file, so a
/// half-written PNG never carries the name).
pub fn write_png(path: &Path, image: &egui::ColorImage) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    }
    let [w, h] = image.size;
    let tmp = path.with_extension("png.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| fail(&e))?;
    let mut enc = png::Encoder::new(
        std::io::BufWriter::new(file),
        u32::try_from(w).map_err(|e| fail(&e))?,
        u32::try_from(h).map_err(|e| fail(&e))?,
    );
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    let rgba: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(egui::Color32::to_array)
        .collect();
    let written = enc
        .write_header()
        .and_then(|mut wr| {
            wr.write_image_data(&rgba)?;
            wr.finish()
        })
        .map_err(|e| fail(&e));
    if let Err(e) = written {
        std::fs::remove_file(&tmp).ok();
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_written_as_a_png_that_decodes_to_the_same_pixels() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut image = egui::ColorImage::filled([64, 32], egui::Color32::from_rgb(20, 30, 40));
        image.pixels[5] = egui::Color32::from_rgb(0, 158, 115);
        let path = default_path(dir.path(), "prod eu/1", Timestamp(1_790_000_000_000));
        assert!(
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("switchboard-prod_eu_1-"))
                && path.extension().is_some_and(|e| e == "png"),
            "{}",
            path.display()
        );
        write_png(&path, &image).expect("written");
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&path).expect("open"),
        ));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("frame");
        assert_eq!((info.width, info.height), (64, 32));
        assert_eq!(&buf[20..24], &[0, 158, 115, 255], "pixel 5");
        assert_eq!(&buf[0..4], &[20, 30, 40, 255]);
    }

    #[test]
    fn an_impossible_path_is_a_clear_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").expect("write");
        let image = egui::ColorImage::filled([4, 4], egui::Color32::BLACK);
        let err = write_png(&file.join("view.png"), &image).expect_err("under a file");
        assert!(err.contains("cannot write"), "{err}");
    }
}
