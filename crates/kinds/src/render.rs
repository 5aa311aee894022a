//! The `render` kind: a scene split into tiles (a grid of `tile_size`, or `tiles` horizontal
//! strips as seed 004's `NUM_RAYTRACING_TASKS`), each rendered to raw little-endian f32 RGB,
//! assembled into one image in the requested format.

use crate::{Assembler, JobKind, KindError, Output, PlanCtx, Planned, TaskRun};
use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tessera_imageops::Format;
use tessera_render::PreparedScene;
use tessera_types::job::blob_key;
use tessera_types::scene::Scene;
use tessera_types::ws::Rect;
use tessera_types::{FieldError, JobDoc, JobId, JobRecord, TaskSpec};

/// Tile edge used when a document gives neither `tiles` nor `tile_size`.
pub const DEFAULT_TILE: u32 = 64;
/// Name of the scene input blob.
const SCENE_INPUT: &str = "scene";
/// Prepared scenes kept per worker, so consecutive tiles of a job reuse one BVH.
const SCENE_CACHE: usize = 4;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenderBody {
    scene: serde_json::Value,
    #[serde(default)]
    tiles: Option<u32>,
    #[serde(default)]
    tile_size: Option<[u32; 2]>,
    #[serde(default)]
    format: Option<String>,
}

/// The normalised render document kept in the job record; the scene itself is a blob.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RenderDoc {
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// Samples per pixel.
    pub spp: u32,
    /// Output format name.
    pub format: String,
    /// Tile width and height (strips are full-width tiles).
    pub tile_size: [u32; 2],
}

/// Splits a `width`×`height` image into tiles of at most `tw`×`th`, row by row.
pub fn tile_grid(width: u32, height: u32, tw: u32, th: u32) -> Vec<Rect> {
    let mut out = Vec::new();
    let mut y = 0;
    while y < height {
        let h = th.min(height - y);
        let mut x = 0;
        while x < width {
            let w = tw.min(width - x);
            out.push(Rect { x, y, w, h });
            x += w;
        }
        y += h;
    }
    out
}

/// Checks a scene against the JSON Schema, parses it and checks what the schema cannot express
/// ([`Scene::validate`]), prefixing errors with `scene`.
pub fn parse_scene(value: serde_json::Value, limits: &tessera_types::Limits) -> Result<Scene, FieldError> {
    crate::scene_schema::check(&value).map_err(|e| e.within("scene"))?;
    let scene = Scene::from_json_value(value).map_err(|e| e.within("scene"))?;
    scene.validate(limits).map_err(|e| e.within("scene"))?;
    Ok(scene)
}

fn rect_of(payload: &serde_json::Value) -> Result<Rect, KindError> {
    serde_json::from_value(payload.clone()).map_err(|e| KindError::Corrupt(format!("tile payload: {e}")))
}

fn doc_of(job: &JobRecord) -> Result<RenderDoc, KindError> {
    serde_json::from_value(job.doc.clone()).map_err(|e| KindError::Corrupt(format!("render document: {e}")))
}

fn floats_of(rect: Rect, data: &[u8]) -> Result<Vec<f32>, KindError> {
    let expected = rect.w as usize * rect.h as usize * 3 * 4;
    if data.len() != expected {
        return Err(KindError::Corrupt(format!("tile holds {} bytes, expected {expected}", data.len())));
    }
    Ok(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// The render kind. Holds a small cache of prepared scenes for the worker side.
#[derive(Default)]
pub struct RenderKind {
    cache: Mutex<Vec<(JobId, Arc<PreparedScene>)>>,
}

impl RenderKind {
    fn prepared(&self, job: &JobId, scene_json: &[u8]) -> Result<Arc<PreparedScene>, KindError> {
        if let Some((_, s)) = self.cache.lock().expect("cache lock").iter().find(|(j, _)| j == job) {
            return Ok(s.clone());
        }
        let scene = Scene::from_json_str(
            std::str::from_utf8(scene_json).map_err(|e| KindError::Corrupt(format!("scene blob: {e}")))?,
        )
        .map_err(|e| KindError::Corrupt(format!("scene blob: {e}")))?;
        let prepared = Arc::new(PreparedScene::new(&scene).map_err(|e| KindError::Task(e.to_string()))?);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= SCENE_CACHE {
            cache.remove(0);
        }
        cache.push((job.clone(), prepared.clone()));
        Ok(prepared)
    }
}

#[async_trait]
impl JobKind for RenderKind {
    fn name(&self) -> &'static str {
        "render"
    }

    async fn plan(&self, doc: &JobDoc, ctx: PlanCtx<'_>) -> Result<Planned, KindError> {
        let body: RenderBody = crate::parse_body(doc)?;
        let scene = parse_scene(body.scene, ctx.limits)?;
        let (width, height) = (scene.render.width, scene.render.height);
        let format = match &body.format {
            None => Format::Png,
            Some(f) => Format::parse(f).ok_or_else(|| {
                FieldError::new(
                    "format",
                    format!("unknown format {f:?}; expected png, jpeg, bmp, ppm or exr"),
                )
            })?,
        };
        let tile_size = match (body.tiles, body.tile_size) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new("tiles", "give either tiles or tile_size, not both").into())
            }
            (Some(n), None) => {
                if n == 0 || n > height {
                    return Err(FieldError::new(
                        "tiles",
                        format!("{n} strips do not fit; expected 1 to {height} (the image height)"),
                    )
                    .into());
                }
                [width, height.div_ceil(n)]
            }
            (None, Some([tw, th])) => {
                if tw == 0 || th == 0 {
                    return Err(
                        FieldError::new("tile_size", "tile width and height must be at least 1").into()
                    );
                }
                [tw.min(width), th.min(height)]
            }
            (None, None) => [DEFAULT_TILE.min(width), DEFAULT_TILE.min(height)],
        };
        let count = width.div_ceil(tile_size[0]) as u64 * height.div_ceil(tile_size[1]) as u64;
        if count > ctx.limits.max_tasks as u64 {
            return Err(FieldError::new(
                "tile_size",
                format!(
                    "{count} tiles exceed the limit of {} tasks per job; use larger tiles",
                    ctx.limits.max_tasks
                ),
            )
            .into());
        }
        let tasks = tile_grid(width, height, tile_size[0], tile_size[1])
            .into_iter()
            .enumerate()
            .map(|(i, r)| TaskSpec {
                index: i as u32,
                payload: serde_json::to_value(r).expect("rect serialises"),
            })
            .collect();
        let doc = RenderDoc { width, height, spp: scene.render.spp, format: format.name().into(), tile_size };
        let scene_bytes = serde_json::to_vec(&scene).expect("scene serialises");
        Ok(Planned {
            doc: serde_json::to_value(doc).expect("doc serialises"),
            tasks,
            inputs: vec![(SCENE_INPUT.to_string(), Bytes::from(scene_bytes))],
        })
    }

    fn task_inputs(&self, job_id: &JobId, _payload: &serde_json::Value) -> Vec<String> {
        vec![blob_key::job_input(job_id, SCENE_INPUT)]
    }

    fn run_task(&self, run: TaskRun<'_>) -> Result<Vec<u8>, KindError> {
        let rect = rect_of(run.payload)?;
        let key = blob_key::job_input(run.job_id, SCENE_INPUT);
        let scene_json =
            run.inputs.get(&key).ok_or_else(|| KindError::Corrupt(format!("missing input {key}")))?;
        let scene = self.prepared(run.job_id, scene_json)?;
        if rect.x + rect.w > scene.width() || rect.y + rect.h > scene.height() || rect.w == 0 || rect.h == 0 {
            return Err(KindError::Corrupt(format!("tile {rect:?} outside the image")));
        }
        let pixels = tessera_render::render_rect(&scene, rect.x, rect.y, rect.w, rect.h);
        let mut out = Vec::with_capacity(pixels.len() * 4);
        for v in pixels {
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }

    fn assembler(&self, job: &JobRecord) -> Result<Box<dyn Assembler>, KindError> {
        let doc = doc_of(job)?;
        let format =
            Format::parse(&doc.format).ok_or_else(|| KindError::Corrupt(format!("format {}", doc.format)))?;
        let tail = &job.id.as_str()[job.id.as_str().len().saturating_sub(8)..];
        Ok(Box::new(RenderAssembler {
            canvas: vec![0.0; doc.width as usize * doc.height as usize * 3],
            width: doc.width,
            height: doc.height,
            format,
            filename: format!("render-{tail}.{}", format.extension()),
        }))
    }

    fn tile_png(
        &self,
        _job: &JobRecord,
        payload: &serde_json::Value,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, KindError> {
        let rect = rect_of(payload)?;
        let px = floats_of(rect, data)?;
        tessera_imageops::encode(&px, rect.w, rect.h, Format::Png)
            .map(Some)
            .map_err(|e| KindError::Task(e.to_string()))
    }

    fn tile_rect(&self, payload: &serde_json::Value) -> Option<Rect> {
        rect_of(payload).ok()
    }

    fn dimensions(&self, job: &JobRecord) -> Option<(u32, u32)> {
        doc_of(job).ok().map(|d| (d.width, d.height))
    }
}

struct RenderAssembler {
    canvas: Vec<f32>,
    width: u32,
    height: u32,
    format: Format,
    filename: String,
}

impl Assembler for RenderAssembler {
    fn add(&mut self, _index: u32, payload: &serde_json::Value, data: &[u8]) -> Result<(), KindError> {
        let rect = rect_of(payload)?;
        if rect.x + rect.w > self.width || rect.y + rect.h > self.height {
            return Err(KindError::Corrupt(format!("tile {rect:?} outside the image")));
        }
        let px = floats_of(rect, data)?;
        let row = rect.w as usize * 3;
        for (j, src) in px.chunks_exact(row).enumerate() {
            let start = ((rect.y as usize + j) * self.width as usize + rect.x as usize) * 3;
            self.canvas[start..start + row].copy_from_slice(src);
        }
        Ok(())
    }

    fn preview_png(&self) -> Result<Option<Vec<u8>>, KindError> {
        tessera_imageops::encode(&self.canvas, self.width, self.height, Format::Png)
            .map(Some)
            .map_err(|e| KindError::Task(e.to_string()))
    }

    fn finish(&mut self) -> Result<Output, KindError> {
        let bytes = tessera_imageops::encode(&self.canvas, self.width, self.height, self.format)
            .map_err(|e| KindError::Task(e.to_string()))?;
        Ok(Output { filename: self.filename.clone(), mime: self.format.mime().to_string(), bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_pixel_once() {
        for (w, h, tw, th) in [(640, 360, 32, 32), (97, 13, 7, 5), (1, 1, 64, 64), (100, 50, 100, 1)] {
            let mut hits = vec![0u8; (w * h) as usize];
            for r in tile_grid(w, h, tw, th) {
                assert!(r.w >= 1 && r.h >= 1 && r.w <= tw && r.h <= th);
                for y in r.y..r.y + r.h {
                    for x in r.x..r.x + r.w {
                        hits[(y * w + x) as usize] += 1;
                    }
                }
            }
            assert!(hits.iter().all(|&c| c == 1), "{w}x{h} by {tw}x{th}");
        }
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let doc: JobDoc = serde_json::from_value(serde_json::json!({
            "kind": "render", "scene": {}, "tiles": "four"
        }))
        .unwrap();
        let err = crate::parse_body::<RenderBody>(&doc).err().expect("refused");
        assert_eq!(err.field, "tiles", "{err}");
        let doc: JobDoc =
            serde_json::from_value(serde_json::json!({ "kind": "render", "scene": {}, "tilez": 4 })).unwrap();
        let err = crate::parse_body::<RenderBody>(&doc).err().expect("refused");
        assert_eq!(err.field, "tilez", "{err}");
    }
}
