//! The credential chain (environment → profile → web identity → container
//! → instance metadata), an optional role on top, and the cache.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;

use crate::credentials::{Clock, Resolved, StaticCredentials};
use crate::environment::AwsEnvironment;
use crate::error::AwsError;
use crate::http::Http;
use crate::profile::{SharedFiles, from_profile};
use crate::{metadata, sts};

/// What to look for beyond the standard order (all optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainConfig {
    /// Take credentials from this profile of the shared files only,
    /// instead of the whole chain (where `AWS_PROFILE` picks the profile).
    pub profile: Option<String>,
    /// Assume this role (STS `AssumeRole`) with the chain's credentials.
    pub role_arn: Option<String>,
    /// Session name for `role_arn` (default `costetl-<unix millis>`).
    pub role_session_name: Option<String>,
    /// External ID the role's trust policy requires, if any.
    pub external_id: Option<String>,
    /// STS endpoint URL (default: `AWS_ENDPOINT_URL_STS`, then
    /// `AWS_ENDPOINT_URL`, then the region's).
    pub sts_endpoint: Option<String>,
}

/// The outcome of one step of the chain.
pub(crate) enum Lookup {
    /// This step supplied credentials.
    Found(Resolved),
    /// This step is not configured; why (for the final error message).
    Missing(String),
}

/// Shared by every step: lookups, region, HTTP, clock.
pub(crate) struct Context {
    pub(crate) env: AwsEnvironment,
    pub(crate) region: String,
    /// The configured STS endpoint, before the environment's.
    pub(crate) sts_endpoint: Option<String>,
    pub(crate) http: Http,
    pub(crate) clock: Clock,
}

impl Context {
    pub(crate) fn now(&self) -> SystemTime {
        (self.clock)()
    }
}

/// A role to assume on top of the base credentials.
struct AssumeRole {
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
}

enum Base {
    Static(Credentials),
    Chain { profile: Option<String> },
}

/// Where credentials come from, with the cache; see the
/// [crate docs](crate) for the order.
pub struct CredentialChain {
    base: Base,
    assume: Option<AssumeRole>,
    ctx: Context,
    cache: tokio::sync::Mutex<Option<Arc<Resolved>>>,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.base {
            Base::Static(c) => write!(f, "static credentials {}", c.access_key_id())?,
            Base::Chain { profile: Some(p) } => write!(f, "profile {p:?}")?,
            Base::Chain { profile: None } => f.write_str("default chain")?,
        }
        if let Some(role) = &self.assume {
            write!(f, ", then role {}", role.role_arn)?;
        }
        Ok(())
    }
}

impl CredentialChain {
    /// A chain for `region` (STS's endpoint; static credentials skip the
    /// chain, a `role_arn` is still assumed with them) reading `env`.
    /// Nothing is looked up until [`CredentialChain::credentials`].
    ///
    /// # Errors
    /// [`AwsError::Config`] for static credentials without a key or secret.
    pub fn new(
        config: &ChainConfig,
        region: &str,
        env: AwsEnvironment,
        credentials: Option<StaticCredentials>,
        clock: Clock,
    ) -> Result<Self, AwsError> {
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let base = match credentials {
            Some(c) => {
                if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                    return Err(AwsError::config(
                        "static AWS credentials need an access key ID and a secret access key"
                            .to_owned(),
                    ));
                }
                Base::Static(Credentials::new(
                    c.access_key_id,
                    c.secret_access_key,
                    c.session_token.filter(|t| !t.is_empty()),
                    None,
                    "static",
                ))
            }
            None => Base::Chain {
                profile: non_empty(&config.profile),
            },
        };
        let assume = non_empty(&config.role_arn).map(|role_arn| AssumeRole {
            role_arn,
            session_name: non_empty(&config.role_session_name),
            external_id: non_empty(&config.external_id),
        });
        Ok(Self {
            base,
            assume,
            ctx: Context {
                env,
                region: region.to_owned(),
                sts_endpoint: non_empty(&config.sts_endpoint),
                http: Http::new()?,
                clock,
            },
            cache: tokio::sync::Mutex::new(None),
        })
    }

    /// Cached credentials while fresh, else new ones. A failed refresh
    /// falls back to cached credentials that have not expired yet.
    ///
    /// # Errors
    /// [`AwsError::NotFound`] naming every step when none is configured;
    /// the failing step's error when one is configured but fails.
    pub async fn credentials(&self) -> Result<Arc<Resolved>, AwsError> {
        // Held across the refresh: concurrent signers wait for one refresh
        // rather than each calling STS.
        let mut cached = self.cache.lock().await;
        let now = self.ctx.now();
        if let Some(r) = cached.as_ref()
            && r.fresh(now)
        {
            return Ok(r.clone());
        }
        match self.resolve().await {
            Ok(r) => {
                let r = Arc::new(r);
                *cached = Some(r.clone());
                Ok(r)
            }
            Err(e) => match cached.as_ref() {
                Some(r) if r.unexpired(now) => Ok(r.clone()),
                _ => Err(e),
            },
        }
    }

    async fn resolve(&self) -> Result<Resolved, AwsError> {
        let base = match &self.base {
            Base::Static(c) => {
                Resolved::new(c.clone(), "static credentials".to_owned(), self.ctx.now())
            }
            Base::Chain { profile } => self.chain(profile.as_deref()).await?,
        };
        match &self.assume {
            None => Ok(base),
            Some(role) => {
                sts::assume_role(
                    &self.ctx,
                    &base,
                    &role.role_arn,
                    role.session_name.as_deref(),
                    role.external_id.as_deref(),
                )
                .await
            }
        }
    }

    async fn chain(&self, profile: Option<&str>) -> Result<Resolved, AwsError> {
        let ctx = &self.ctx;
        let mut tried = Vec::new();
        if let Some(name) = profile {
            // An explicit profile is the only source.
            let files = SharedFiles::load(&ctx.env).await?;
            return match from_profile(ctx, &files, name, Vec::new()).await? {
                Lookup::Found(r) => Ok(r),
                Lookup::Missing(why) => Err(AwsError::config(format!(
                    "no AWS credentials in profile {name:?} ({why})"
                ))),
            };
        }

        match from_env(ctx) {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("environment ({why})")),
        }

        let chosen = ctx.env.var("AWS_PROFILE");
        let name = chosen.as_deref().unwrap_or("default");
        let files = SharedFiles::load(&ctx.env).await?;
        match from_profile(ctx, &files, name, Vec::new()).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) if chosen.is_some() => {
                // AWS_PROFILE names a profile on purpose; falling through
                // to, say, the instance role would hide the mistake.
                return Err(AwsError::config(format!(
                    "no AWS credentials in profile {name:?} (AWS_PROFILE): {why}"
                )));
            }
            Lookup::Missing(why) => tried.push(format!("profile {name:?} ({why})")),
        }

        match from_web_identity(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("web identity ({why})")),
        }
        match metadata::container(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("container ({why})")),
        }
        match metadata::instance_metadata(ctx).await? {
            Lookup::Found(r) => return Ok(r),
            Lookup::Missing(why) => tried.push(format!("instance metadata ({why})")),
        }
        Err(AwsError::NotFound { tried })
    }
}

/// Step 1 (and `credential_source = Environment`): `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
pub(crate) fn from_env(ctx: &Context) -> Lookup {
    let env = &ctx.env;
    match (
        env.var("AWS_ACCESS_KEY_ID"),
        env.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Lookup::Found(Resolved::new(
            Credentials::new(
                id,
                secret,
                env.var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            ),
            "environment".to_owned(),
            ctx.now(),
        )),
        (None, None) => Lookup::Missing("AWS_ACCESS_KEY_ID unset".to_owned()),
        (Some(_), None) => {
            Lookup::Missing("AWS_ACCESS_KEY_ID set but AWS_SECRET_ACCESS_KEY unset".to_owned())
        }
        (None, Some(_)) => {
            Lookup::Missing("AWS_SECRET_ACCESS_KEY set but AWS_ACCESS_KEY_ID unset".to_owned())
        }
    }
}

/// Step 3: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`.
async fn from_web_identity(ctx: &Context) -> Result<Lookup, AwsError> {
    let env = &ctx.env;
    match (
        env.var("AWS_WEB_IDENTITY_TOKEN_FILE"),
        env.var("AWS_ROLE_ARN"),
    ) {
        (None, None) => Ok(Lookup::Missing(
            "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN unset".to_owned(),
        )),
        (None, Some(_)) => Ok(Lookup::Missing(
            "AWS_ROLE_ARN set but AWS_WEB_IDENTITY_TOKEN_FILE unset".to_owned(),
        )),
        (Some(file), None) => Err(AwsError::config(format!(
            "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set ({file}) but AWS_ROLE_ARN is not"
        ))),
        (Some(file), Some(role_arn)) => {
            let session = env.var("AWS_ROLE_SESSION_NAME");
            sts::assume_role_with_web_identity(
                ctx,
                &file,
                &role_arn,
                session.as_deref(),
                "web identity",
            )
            .await
            .map(Lookup::Found)
        }
    }
}
