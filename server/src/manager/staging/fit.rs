//! Whether a launch may take a staged session: the one place that decides it, pure. A staged
//! session was started before anyone asked, for nobody: what a container only takes when it is
//! created cannot be given to it at hand-over. Such launches start cold instead.

/// What a launch asks for beyond its image, as far as staging cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaunchNeeds {
    /// Variables the caller adds to the container's environment (request_kasm `environment`):
    /// a running container's environment cannot change.
    pub environment: bool,
    /// A first page for a browser workspace (the Developer API's launch URL): read by the
    /// image's session when it starts.
    pub start_url: bool,
    /// The user's persistent profile would be mounted (issue #15: set by the launch once
    /// profiles exist; a staged container has no mount of its owner's profile).
    pub persistent_profile: bool,
    /// Volume mappings that name the user (per-user directories, issue #15).
    pub user_volume_mappings: bool,
}

/// Why a launch does not fit a staged session (it starts cold).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    Environment,
    StartUrl,
    PersistentProfile,
    UserVolumeMappings,
}

impl Unfit {
    /// The metric label and log word.
    pub fn as_str(self) -> &'static str {
        match self {
            Unfit::Environment => "environment",
            Unfit::StartUrl => "start_url",
            Unfit::PersistentProfile => "persistent_profile",
            Unfit::UserVolumeMappings => "volume_mappings",
        }
    }
}

/// Ok when a staged session of the launch's image can serve it as well as a cold one.
pub fn fits(needs: &LaunchNeeds) -> Result<(), Unfit> {
    if needs.persistent_profile {
        return Err(Unfit::PersistentProfile);
    }
    if needs.user_volume_mappings {
        return Err(Unfit::UserVolumeMappings);
    }
    if needs.environment {
        return Err(Unfit::Environment);
    }
    if needs.start_url {
        return Err(Unfit::StartUrl);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_launch_fits() {
        assert_eq!(fits(&LaunchNeeds::default()), Ok(()));
    }

    #[test]
    fn what_a_container_takes_only_at_its_creation_does_not_fit() {
        let cases = [
            (
                LaunchNeeds {
                    environment: true,
                    ..LaunchNeeds::default()
                },
                Unfit::Environment,
            ),
            (
                LaunchNeeds {
                    start_url: true,
                    ..LaunchNeeds::default()
                },
                Unfit::StartUrl,
            ),
            (
                LaunchNeeds {
                    persistent_profile: true,
                    ..LaunchNeeds::default()
                },
                Unfit::PersistentProfile,
            ),
            (
                LaunchNeeds {
                    user_volume_mappings: true,
                    ..LaunchNeeds::default()
                },
                Unfit::UserVolumeMappings,
            ),
        ];
        for (needs, why) in cases {
            assert_eq!(fits(&needs), Err(why), "{needs:?}");
        }
    }

    #[test]
    fn a_profile_is_named_first_when_several_things_do_not_fit() {
        let needs = LaunchNeeds {
            environment: true,
            start_url: true,
            persistent_profile: true,
            user_volume_mappings: true,
        };
        assert_eq!(fits(&needs), Err(Unfit::PersistentProfile));
    }
}
