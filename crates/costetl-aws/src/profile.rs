//! Step 2 of the chain: a profile of the shared config and credentials
//! files (static keys, or `role_arn` with `source_profile`,
//! `web_identity_token_file` or `credential_source`).

use std::future::Future;
use std::pin::Pin;

use aws_credential_types::Credentials;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::section::{EnvConfigSections, Profile};

use crate::chain::{Context, Lookup, from_env};
use crate::credentials::Resolved;
use crate::environment::AwsEnvironment;
use crate::error::{AwsError, error_chain};
use crate::{metadata, sts};

/// The parsed shared config and credentials files.
pub(crate) struct SharedFiles {
    sections: EnvConfigSections,
    /// "<credentials path>, <config path>", for messages.
    paths: String,
}

impl SharedFiles {
    pub(crate) async fn load(env: &AwsEnvironment) -> Result<Self, AwsError> {
        let home = env.var("HOME");
        let path = |var: &str, default: &str| {
            env.var(var).unwrap_or_else(|| match &home {
                Some(h) => format!("{}/{default}", h.trim_end_matches('/')),
                None => format!("~/{default}"),
            })
        };
        let paths = format!(
            "{}, {}",
            path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
            path("AWS_CONFIG_FILE", ".aws/config")
        );
        // aws-runtime's loader: the same file locations, `~` expansion and
        // `[profile x]` rules as the AWS SDKs; missing files are empty.
        let source =
            aws_runtime::env_config::source::load(&env.env, &env.fs, &EnvConfigFiles::default())
                .await
                .map_err(|e| {
                    AwsError::config(format!(
                        "cannot read the shared AWS files ({paths}): {}",
                        error_chain(&e)
                    ))
                })?;
        let sections = EnvConfigSections::parse(source).map_err(|e| {
            AwsError::config(format!(
                "cannot parse the shared AWS files ({paths}): {}",
                error_chain(&e)
            ))
        })?;
        Ok(Self { sections, paths })
    }
}

type BoxLookup<'a> = Pin<Box<dyn Future<Output = Result<Lookup, AwsError>> + Send + 'a>>;

/// At most this many profiles in one `source_profile` chain.
const MAX_PROFILE_CHAIN: usize = 8;

/// Step 2: a profile of the shared files. `visited` holds the profiles
/// whose `source_profile` led here.
pub(crate) fn from_profile<'a>(
    ctx: &'a Context,
    files: &'a SharedFiles,
    name: &'a str,
    mut visited: Vec<String>,
) -> BoxLookup<'a> {
    Box::pin(async move {
        let Some(profile) = files.sections.get_profile(name) else {
            return Ok(Lookup::Missing(format!("not found in {}", files.paths)));
        };
        let label = profile_label(name);
        visited.push(name.to_owned());
        if let Some(role_arn) = profile.get("role_arn") {
            return assume_profile_role(ctx, files, name, profile, role_arn, visited).await;
        }
        if let Some(found) = static_keys(ctx, profile, &label) {
            return Ok(Lookup::Found(found));
        }
        if profile.get("credential_process").is_some() {
            return Err(AwsError::config(format!(
                "{label} uses credential_process, which costetl does not run; export the \
                 credentials instead (aws configure export-credentials --profile {name} \
                 --format env)"
            )));
        }
        if profile.get("sso_session").is_some() || profile.get("sso_start_url").is_some() {
            return Err(AwsError::config(format!(
                "{label} uses IAM Identity Center (SSO), which costetl does not support; export \
                 the credentials instead (aws configure export-credentials --profile {name} \
                 --format env)"
            )));
        }
        Ok(Lookup::Missing(format!(
            "no aws_access_key_id or role_arn in {}",
            files.paths
        )))
    }) as BoxLookup<'a>
}

/// A profile with `role_arn`: the role assumed with the credentials of
/// its `source_profile` or `credential_source`, or with its web identity
/// token.
async fn assume_profile_role(
    ctx: &Context,
    files: &SharedFiles,
    name: &str,
    profile: &Profile,
    role_arn: &str,
    visited: Vec<String>,
) -> Result<Lookup, AwsError> {
    let label = profile_label(name);
    let source = if let Some(source_name) = profile.get("source_profile") {
        source_profile(ctx, files, name, profile, source_name, visited).await?
    } else if let Some(token_file) = profile.get("web_identity_token_file") {
        return sts::assume_role_with_web_identity(
            ctx,
            token_file,
            role_arn,
            profile.get("role_session_name"),
            &label,
        )
        .await
        .map(Lookup::Found);
    } else if let Some(source) = profile.get("credential_source") {
        credential_source(ctx, source, &label).await?
    } else {
        return Err(AwsError::config(format!(
            "{label} has role_arn but no source_profile, web_identity_token_file or \
             credential_source"
        )));
    };
    sts::assume_role(
        ctx,
        &source,
        role_arn,
        profile.get("role_session_name"),
        profile.get("external_id"),
    )
    .await
    .map(Lookup::Found)
}

/// The credentials of profile `name`'s `source_profile`: its own keys, or
/// the source's chain, without loops and at most [`MAX_PROFILE_CHAIN`]
/// profiles deep.
async fn source_profile(
    ctx: &Context,
    files: &SharedFiles,
    name: &str,
    profile: &Profile,
    source_name: &str,
    visited: Vec<String>,
) -> Result<Resolved, AwsError> {
    let label = profile_label(name);
    if source_name == name {
        // A profile may hold the keys for its own role.
        static_keys(ctx, profile, &label).ok_or_else(|| {
            AwsError::config(format!(
                "{label} is its own source_profile but has no \
                 aws_access_key_id/aws_secret_access_key"
            ))
        })
    } else if visited.iter().any(|v| v == source_name) {
        Err(AwsError::config(format!(
            "{label}: source_profile loop ({} → {source_name})",
            visited.join(" → ")
        )))
    } else if visited.len() >= MAX_PROFILE_CHAIN {
        Err(AwsError::config(format!(
            "{label}: more than {MAX_PROFILE_CHAIN} profiles chained by source_profile"
        )))
    } else {
        match from_profile(ctx, files, source_name, visited).await? {
            Lookup::Found(r) => Ok(r),
            Lookup::Missing(why) => Err(AwsError::config(format!(
                "{label}: source_profile {source_name:?} has no credentials ({why})"
            ))),
        }
    }
}

/// How messages name profile `name`.
fn profile_label(name: &str) -> String {
    format!("profile {name:?}")
}

/// The credentials a profile's `credential_source` names.
async fn credential_source(ctx: &Context, source: &str, label: &str) -> Result<Resolved, AwsError> {
    let found = match source {
        "Environment" => from_env(ctx),
        "EcsContainer" => metadata::container(ctx).await?,
        "Ec2InstanceMetadata" => metadata::instance_metadata(ctx).await?,
        other => {
            return Err(AwsError::config(format!(
                "{label}: unknown credential_source {other:?} (expected Environment, \
                 EcsContainer or Ec2InstanceMetadata)"
            )));
        }
    };
    match found {
        Lookup::Found(r) => Ok(r),
        Lookup::Missing(why) => Err(AwsError::config(format!(
            "{label}: credential_source {source} has no credentials ({why})"
        ))),
    }
}

/// `aws_access_key_id` + `aws_secret_access_key` (+ `aws_session_token`).
fn static_keys(ctx: &Context, profile: &Profile, label: &str) -> Option<Resolved> {
    let id = profile.get("aws_access_key_id").filter(|v| !v.is_empty())?;
    let secret = profile
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty())?;
    let token = profile
        .get("aws_session_token")
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    Some(Resolved::new(
        Credentials::new(id, secret, token, None, "profile"),
        label.to_owned(),
        ctx.now(),
    ))
}
