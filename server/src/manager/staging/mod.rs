//! Staging (warm pool): sessions started ahead of demand, for nobody, and handed over to the
//! launches that fit them.
//!
//! - A staged session is an ordinary session row without an owner (`user_id` NULL) naming its
//!   config: it goes through the same states (provisioning → starting → running), the same
//!   recovery after a restart of Berth and the same reaper (its expiration is the config's
//!   expiry, so a session that waited too long is reaped and then replaced). Nobody reaches it:
//!   the proxy refuses an owner-less session to everyone (`proxy::target::authorize`).
//! - `tend_pool` (each sweep, under the jobs lease, and after each hand-over) applies
//!   [`pool::plan`]: recycles what cannot serve, starts what is missing, at most
//!   [`STAGING_CONCURRENCY`] staged launches at once, each waiting for a spare launch slot so
//!   that users' launches are never queued behind the pool.
//! - `take_staged` hands a ready one over: claimed in one statement under the placement lock
//!   (limits hold, two launches never get the same one), then its VNC password is replaced by
//!   a fresh secret inside the container before its id is returned to anyone.
pub mod fit;
pub mod pool;

use super::launch::{check_limit, session_secret, LaunchSpec};
use super::Manager;
use berth_model::ControlError;
use std::sync::Arc;
use std::time::Duration;
use store::sessions::placement::{HandOver, Placement};
use uuid::Uuid;

/// Staged launches under way at once, deployment-wide.
pub const STAGING_CONCURRENCY: usize = 2;
/// A launch slot for a staged launch: only when another stays free for users (or the agent has
/// one slot only and it is free), waiting otherwise.
pub(super) async fn spare_slot(
    slots: &Arc<tokio::sync::Semaphore>,
    per_agent: usize,
) -> tokio::sync::OwnedSemaphorePermit {
    let keep_free = usize::from(per_agent > 1);
    loop {
        if slots.available_permits() > keep_free {
            if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
                return permit;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Manager {
    /// Recycles and starts staged sessions as [`pool::plan`] says. Skipped when a tending is
    /// already under way in this process.
    pub async fn tend_pool(self: &Arc<Self>) {
        let Ok(_turn) = self.pool_gate.try_lock() else {
            return;
        };
        let (configs, staged) = match store::staging::pool_snapshot(&self.db).await {
            Ok(read) => read,
            Err(error) => return tracing::warn!(%error, "cannot read the staging pool"),
        };
        let wants: Vec<pool::Want> = configs
            .iter()
            .map(|config| pool::Want {
                staging_config_id: config.staging_config_id,
                desired: i64::from(config.desired),
            })
            .collect();
        let have: Vec<pool::Have> = staged
            .into_iter()
            .map(|session| pool::Have {
                session_id: session.session_id,
                staging_config_id: session.staging_config_id,
                status: session.status,
            })
            .collect();
        let plan = pool::plan(&wants, &have, STAGING_CONCURRENCY);
        for session_id in plan.recycle {
            tracing::info!(%session_id, "recycling a staged session");
            if let Err(error) = self
                .destroy_session(session_id, "Recycled from the staging pool.")
                .await
            {
                tracing::warn!(%session_id, %error, "could not recycle a staged session");
            }
        }
        for config_id in plan.start {
            let Some(config) = configs.iter().find(|c| c.staging_config_id == config_id) else {
                continue;
            };
            if let Err(error) = self.stage_one(config).await {
                // No capacity, image disabled...: tried again at the next sweep.
                tracing::debug!(%config_id, %error, "could not stage a session now");
                break;
            }
        }
    }

    /// Places and launches one staged session for `config`.
    async fn stage_one(
        self: &Arc<Self>,
        config: &store::staging::ConfigView,
    ) -> Result<(), ControlError> {
        let image = store::sessions::placement::launch_image(&self.db, config.image_id)
            .await?
            .filter(|image| image.enabled)
            .ok_or_else(|| ControlError::Unavailable("the image is disabled or gone".into()))?;
        let restrict = match (config.server_id, image.only_on) {
            (Some(a), Some(b)) if a != b => {
                return Err(ControlError::Unavailable(
                    "the image is restricted to another agent".into(),
                ))
            }
            (server, only_on) => server.or(only_on),
        };
        let mut spec = LaunchSpec {
            session_id: Uuid::new_v4(),
            user_id: Uuid::nil(),
            image_id: config.image_id,
            image: image.name,
            image_name: image.friendly_name,
            cores: image.cores,
            memory: image.memory,
            network_mode: image.network_mode,
            run_config: image.run_config,
            start_url: None,
            server_id: Uuid::nil(),
            staging_config_id: Some(config.staging_config_id),
            storage: Default::default(),
        };
        let host = self
            .place(
                &mut spec,
                i64::from(config.desired),
                i64::from(config.expiry_secs),
                restrict,
            )
            .await?;
        tracing::info!(session_id = %spec.session_id, image = spec.image, host, "staging a session");
        self.supervise(spec);
        Ok(())
    }

    /// Hands a ready staged session of the image over to the user when the launch fits one;
    /// None when it does not or none is ready (the launch then starts cold). The user's access
    /// to the image was checked by the caller; their limit is checked here, under the lock.
    pub(super) async fn take_staged(
        self: &Arc<Self>,
        user_id: Uuid,
        image_id: Uuid,
        needs: &fit::LaunchNeeds,
        limit: i64,
        lifetime: i64,
    ) -> Result<Option<Uuid>, ControlError> {
        if let Err(unfit) = fit::fits(needs) {
            tracing::debug!(%user_id, %image_id, why = unfit.as_str(), "the launch does not fit a staged session");
            return Ok(None);
        }
        let secret = session_secret();
        let claimed = {
            let _turn = self.placement_gate.lock().await;
            let mut placement = Placement::begin(&self.db).await?;
            check_limit(placement.live_count_of_user(user_id).await?, limit)?;
            let hand_over = HandOver {
                image_id,
                user_id,
                secret: &secret,
                lifetime_secs: lifetime,
            };
            let claimed = placement.claim_staged(&hand_over).await?;
            placement.commit().await?;
            claimed
        };
        let Some(claimed) = claimed else {
            return Ok(None);
        };
        let session_id = claimed.session_id;
        self.refill_soon();
        if let Err(error) = self
            .rotate_secret(claimed.server_id, session_id, &secret)
            .await
        {
            tracing::warn!(%session_id, %error, "a staged session did not take its new secret; starting cold");
            let _ = self
                .destroy_session(session_id, "The staged desktop could not be handed over.")
                .await;
            crate::metrics::staging::count_hand_over(false);
            return Ok(None);
        }
        tracing::info!(%session_id, %user_id, "handed a staged session over");
        crate::metrics::staging::count_hand_over(true);
        Ok(Some(session_id))
    }

    /// Replaces the container's VNC password with `secret` (the row already holds it); the
    /// agent prepared this when the session was staged (`agent::handover`).
    async fn rotate_secret(
        &self,
        server_id: Uuid,
        session_id: Uuid,
        secret: &str,
    ) -> Result<(), ControlError> {
        let agent = self.agent_of(server_id).await?;
        self.agents
            .replace_secret(&agent, session_id, secret)
            .await?;
        Ok(())
    }

    /// Tends the pool in the background now (a hand-over left a gap).
    fn refill_soon(self: &Arc<Self>) {
        let manager = Arc::clone(self);
        tokio::spawn(async move { manager.tend_pool().await });
    }
}
