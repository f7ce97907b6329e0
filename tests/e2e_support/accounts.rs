//! ServiceAccount credentials as the kubelet hands them to a pod: a token from the TokenRequest
//! API (bound to the pod, when there is one, so it dies with it), written into a kubeconfig for
//! the process that plays the pod. Nothing the harness runs for devsim uses the admin token.

use std::path::{Path, PathBuf};

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use kube::config::Kubeconfig;
use kube::{Client, ResourceExt};

/// Requests a one-hour token for `namespace/account` (bound to `pod` if given) and writes a
/// kubeconfig holding it, for the same API server as `admin_kubeconfig`, to `out`.
pub async fn kubeconfig_for(
    admin: &Client,
    admin_kubeconfig: &Path,
    namespace: &str,
    account: &str,
    pod: Option<&Pod>,
    out: &Path,
) -> Result<PathBuf, String> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(3600),
            bound_object_ref: pod.map(|p| BoundObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("Pod".to_owned()),
                name: Some(p.name_any()),
                uid: p.uid(),
            }),
        },
        ..TokenRequest::default()
    };
    let answer: TokenRequest = Api::<ServiceAccount>::namespaced(admin.clone(), namespace)
        .create_subresource("token", account, &PostParams::default(), &request)
        .await
        .map_err(|e| format!("token for {namespace}/{account}: {e}"))?;
    let token = answer
        .status
        .map(|s| s.token)
        .ok_or_else(|| format!("token for {namespace}/{account}: no status"))?;
    let admin_config = Kubeconfig::read_from(admin_kubeconfig).map_err(|e| e.to_string())?;
    let cluster = admin_config
        .clusters
        .first()
        .and_then(|c| c.cluster.as_ref())
        .ok_or("the admin kubeconfig names no cluster")?;
    let server = cluster
        .server
        .clone()
        .ok_or("the admin kubeconfig names no server")?;
    let ca = cluster
        .certificate_authority_data
        .clone()
        .ok_or("the admin kubeconfig carries no CA")?;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {account}\n  user:\n    token: {token}\ncontexts:\n- name: e2e\n  context: {{cluster: e2e, user: {account}, namespace: {namespace}}}\ncurrent-context: e2e\n"
    );
    std::fs::write(out, text).map_err(|e| e.to_string())?;
    Ok(out.to_path_buf())
}
