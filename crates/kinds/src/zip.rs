//! The `zip` kind: one archive of other jobs' outputs. Without `jobs` it takes every finished
//! render, as seed 000's `zip_outputs` did.

use crate::{Assembler, JobKind, KindError, Output, PlanCtx, Planned, TaskRun};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tessera_types::job::blob_key;
use tessera_types::{FieldError, JobDoc, JobId, JobRecord, JobStatus, TaskSpec};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZipBody {
    #[serde(default)]
    jobs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    job_id: JobId,
    filename: String,
}

/// The zip kind.
pub struct ZipKind;

fn entries_of(payload: &serde_json::Value) -> Result<Vec<Entry>, KindError> {
    serde_json::from_value(payload["entries"].clone())
        .map_err(|e| KindError::Corrupt(format!("zip payload: {e}")))
}

#[async_trait]
impl JobKind for ZipKind {
    fn name(&self) -> &'static str {
        "zip"
    }

    async fn plan(&self, doc: &JobDoc, ctx: PlanCtx<'_>) -> Result<Planned, KindError> {
        let body: ZipBody = crate::parse_body(doc)?;
        let max = ctx.limits.max_zip_jobs;
        let jobs: Vec<JobRecord> = match body.jobs {
            Some(ids) => {
                if ids.len() > max {
                    return Err(FieldError::new(
                        "jobs",
                        format!("{} jobs exceed the limit of {max}", ids.len()),
                    )
                    .into());
                }
                let mut out = Vec::with_capacity(ids.len());
                for (i, raw) in ids.iter().enumerate() {
                    let field = format!("jobs[{i}]");
                    let id = JobId::parse(raw)
                        .ok_or_else(|| FieldError::new(&field, format!("{raw:?} is not a job id")))?;
                    let job = ctx
                        .backend
                        .get_job(&id)
                        .await?
                        .ok_or_else(|| FieldError::new(&field, format!("no job {raw}")))?;
                    if job.status != JobStatus::Done || job.output.is_none() {
                        return Err(FieldError::new(
                            &field,
                            format!("job {raw} is {}, not done", job.status.as_str()),
                        )
                        .into());
                    }
                    out.push(job);
                }
                out
            }
            None => {
                let mut all: Vec<JobRecord> = ctx
                    .backend
                    .list_jobs(max)
                    .await?
                    .into_iter()
                    .filter(|j| j.kind == "render" && j.status == JobStatus::Done && j.output.is_some())
                    .collect();
                all.reverse(); // oldest first reads naturally in an archive
                all
            }
        };
        if jobs.is_empty() {
            return Err(FieldError::new("jobs", "there are no finished jobs to archive").into());
        }
        let mut used = std::collections::HashSet::new();
        let entries: Vec<Entry> = jobs
            .iter()
            .map(|j| {
                let name = j.output.as_ref().expect("filtered above").filename.clone();
                let name = if used.insert(name.clone()) { name } else { format!("{}-{name}", j.id) };
                Entry { job_id: j.id.clone(), filename: name }
            })
            .collect();
        Ok(Planned {
            doc: serde_json::json!({ "jobs": entries.iter().map(|e| e.job_id.clone()).collect::<Vec<_>>() }),
            tasks: vec![TaskSpec { index: 0, payload: serde_json::json!({ "entries": entries }) }],
            inputs: vec![],
        })
    }

    fn task_inputs(&self, _job_id: &JobId, payload: &serde_json::Value) -> Vec<String> {
        entries_of(payload)
            .map(|es| es.iter().map(|e| blob_key::job_output(&e.job_id)).collect())
            .unwrap_or_default()
    }

    fn run_task(&self, run: TaskRun<'_>) -> Result<Vec<u8>, KindError> {
        let entries = entries_of(run.payload)?;
        let mut files = Vec::with_capacity(entries.len());
        for e in entries {
            let key = blob_key::job_output(&e.job_id);
            let data = run
                .inputs
                .get(&key)
                .ok_or_else(|| KindError::Task(format!("output of job {} is gone", e.job_id)))?;
            files.push((e.filename, data.to_vec()));
        }
        tessera_pack::zip_files(&files).map_err(|e| KindError::Task(e.to_string()))
    }

    fn assembler(&self, job: &JobRecord) -> Result<Box<dyn Assembler>, KindError> {
        let tail = &job.id.as_str()[job.id.as_str().len().saturating_sub(8)..];
        Ok(Box::new(ZipAssembler { archive: None, filename: format!("outputs-{tail}.zip") }))
    }
}

struct ZipAssembler {
    archive: Option<Vec<u8>>,
    filename: String,
}

impl Assembler for ZipAssembler {
    fn add(&mut self, _index: u32, _payload: &serde_json::Value, data: &[u8]) -> Result<(), KindError> {
        self.archive = Some(data.to_vec());
        Ok(())
    }

    fn preview_png(&self) -> Result<Option<Vec<u8>>, KindError> {
        Ok(None)
    }

    fn finish(&mut self) -> Result<Output, KindError> {
        let bytes =
            self.archive.take().ok_or_else(|| KindError::Corrupt("zip task result missing".into()))?;
        Ok(Output { filename: self.filename.clone(), mime: "application/zip".into(), bytes })
    }
}
