//! The schedule RPCs, answered by the coordinator's [`Schedules`] with
//! `schedule::rpc` building the replies.

use sweep_proto as pb;
use tonic::{Request, Response, Status};

use super::Service;
use crate::schedule::rpc;
use crate::schedule::schedules::Schedules;

impl Service {
    pub(super) async fn add_schedule_rpc(
        &self,
        req: Request<pb::AddScheduleRequest>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        Ok(Response::new(
            rpc::add(self.scheduler()?, req.into_inner()).await?,
        ))
    }

    pub(super) fn list_schedules_rpc(
        &self,
        _: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesReply>, Status> {
        Ok(Response::new(rpc::list(self.scheduler()?)?))
    }

    pub(super) fn show_schedule_rpc(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleDetail>, Status> {
        Ok(Response::new(rpc::show(
            self.scheduler()?,
            &req.into_inner().name,
        )?))
    }

    pub(super) fn remove_schedule_rpc(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        let removed = self.scheduler()?.remove(&req.into_inner().name)?;
        Ok(Response::new(rpc::info(&removed, None)))
    }

    pub(super) async fn run_schedule_now_rpc(
        &self,
        req: Request<pb::ScheduleRef>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        let run = self.scheduler()?.run_now(&req.into_inner().name).await?;
        Ok(Response::new(rpc::run_info(&run)))
    }

    pub(super) fn accept_schedule_run_rpc(
        &self,
        req: Request<pb::AcceptRunRequest>,
    ) -> Result<Response<pb::ScheduleRunInfo>, Status> {
        let req = req.into_inner();
        let run = self
            .scheduler()?
            .accept(&req.schedule, req.seq, &req.note)?;
        Ok(Response::new(rpc::run_info(&run)))
    }

    /// Pauses or resumes a schedule; its state afterwards.
    pub(super) fn set_enabled(
        &self,
        schedule: pb::ScheduleRef,
        enabled: bool,
    ) -> Result<Response<pb::ScheduleInfo>, Status> {
        let s = self.scheduler()?;
        s.set_enabled(&schedule.name, enabled)?;
        let shown = rpc::show(s, &schedule.name)?;
        Ok(Response::new(shown.schedule.unwrap_or_default()))
    }

    fn scheduler(&self) -> Result<&Schedules, Status> {
        self.scheduler
            .as_deref()
            .ok_or_else(|| Status::unimplemented("this coordinator does not run schedules"))
    }
}
