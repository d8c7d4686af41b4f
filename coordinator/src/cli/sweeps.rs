//! The sweep commands against a running coordinator: submit, status (and
//! watch), cancel, list and results.

use std::path::Path;
use std::process::ExitCode;

use sweep_coordinator::user;
use sweep_proto as pb;

use super::conn::{status as rpc, Conn};

pub async fn submit(sweep: &Path, conn: &Conn) -> anyhow::Result<ExitCode> {
    let r = user::submit(&mut conn.connect().await?, sweep).await?;
    println!(
        "sweep {}: {} jobs, {} already done, {} to run",
        r.name, r.jobs, r.already_done, r.to_run
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn status(
    name: String,
    watch: bool,
    json: bool,
    conn: &Conn,
) -> anyhow::Result<ExitCode> {
    let show = |s: &pb::SweepStatusReply| {
        if json {
            user::status_json(s)
        } else {
            user::describe(s)
        }
    };
    let mut c = conn.connect().await?;
    if watch {
        let mut stream = c
            .watch_sweep(pb::SweepRef { name })
            .await
            .map_err(rpc)?
            .into_inner();
        while let Some(s) = stream.message().await.map_err(rpc)? {
            println!("{}", show(&s));
        }
    } else {
        let s = c
            .sweep_status(pb::SweepRef { name })
            .await
            .map_err(rpc)?
            .into_inner();
        println!("{}", show(&s));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(name: String, conn: &Conn) -> anyhow::Result<ExitCode> {
    let s = conn
        .connect()
        .await?
        .cancel_sweep(pb::SweepRef { name })
        .await
        .map_err(rpc)?;
    println!("{}", user::describe(s.get_ref()));
    Ok(ExitCode::SUCCESS)
}

pub async fn list(conn: &Conn) -> anyhow::Result<ExitCode> {
    let all = conn
        .connect()
        .await?
        .list_sweeps(pb::ListSweepsRequest {})
        .await
        .map_err(rpc)?;
    for s in &all.get_ref().sweeps {
        println!("{}", user::describe(s));
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn results(name: &str, out: &Path, conn: &Conn) -> anyhow::Result<ExitCode> {
    let n = user::export_results(&mut conn.connect().await?, name, out).await?;
    println!("{n} results written to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
