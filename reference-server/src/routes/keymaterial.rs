//! Core 6.3: encrypted private key material, through core beta.3's routes
//! (`Registered_uploadEncryptedPKM`, `Registered_getEncryptedPKM`,
//! `Registered_deleteEncryptedPKM`, `Registered_encryptedPKMsizeLimit`) as PROFILE.encrypted-pkm
//! reads them. Key material belongs to the caller's actor (every session of it sees the same) and
//! names an ID-Cert of that actor by serial number. The server stores what it gets and never
//! decrypts anything.

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use p2mls_protocol::routes;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::faults::Fault;
use crate::json::{parse, RawBody};
use crate::state::AppState;
use crate::store::KeyMaterial;

/// The most bytes one element's `key_data` may hold: the document's "usually not more than
/// 10kb". Announced by the size route.
pub const KEY_DATA_LIMIT: usize = 10 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            routes::KEY_MATERIAL,
            get(download).post(upload).delete(remove),
        )
        .route(routes::KEY_MATERIAL_SIZE, get(size_limit))
}

/// core beta.3's `EncryptedPKM`; members the schema does not list are ignored.
#[derive(Deserialize)]
struct Upload {
    key_data: String,
    #[serde(rename = "serialNumber")]
    serial_number: u64,
    #[serde(rename = "encryptionAlgorithms")]
    encryption_algorithms: Vec<String>,
}

/// `POST`: 201 once every element is stored, nothing stored otherwise. In check order: 401,
/// 400 (not an array of EncryptedPKM, an empty array or algorithm list), 413 (an element's
/// `key_data` over `KEY_DATA_LIMIT`), 404 (a serial number that is no ID-Cert of the caller's
/// actor), 409 (key material stored for that serial already, or twice in the batch).
async fn upload(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    RawBody(body): RawBody,
) -> Result<StatusCode, ApiError> {
    let faults = &state.config.faults;
    let elements: Vec<Upload> = parse(&body, &state)?;
    if elements.is_empty() {
        return Err(ApiError::bad("the array holds no key material"));
    }
    if elements.iter().any(|e| e.encryption_algorithms.is_empty()) {
        return Err(ApiError::bad(
            "encryptionAlgorithms needs at least one item",
        ));
    }
    if !faults.contains(&Fault::KeyMaterialNoSizeLimit)
        && elements.iter().any(|e| e.key_data.len() > KEY_DATA_LIMIT)
    {
        return Err(ApiError::KeyMaterialTooLarge(KEY_DATA_LIMIT));
    }
    let lost = faults.contains(&Fault::KeyMaterialLost);
    let overwrite = faults.contains(&Fault::KeyMaterialOverwrite);
    state
        .store
        .tx(move |tx| {
            let mine = tx.actor_serials(&caller.fid)?;
            let mut seen = Vec::new();
            for element in &elements {
                if !mine.contains(&element.serial_number) {
                    return Err(ApiError::NotFound);
                }
                let stored = tx.key_material_stored(&caller.fid, element.serial_number)?;
                if stored && overwrite {
                    tx.delete_key_material(&caller.fid, &[element.serial_number])?;
                } else if seen.contains(&element.serial_number) || stored {
                    return Err(ApiError::Conflict(
                        "key_material_exists",
                        format!(
                            "key material for serial number {} is stored already",
                            element.serial_number
                        ),
                    ));
                }
                seen.push(element.serial_number);
            }
            if lost {
                return Ok(());
            }
            for element in elements {
                tx.insert_key_material(
                    &caller.fid,
                    &KeyMaterial {
                        serial: element.serial_number,
                        key_data: element.key_data,
                        algorithms: json!(element.encryption_algorithms),
                    },
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(StatusCode::CREATED)
}

/// `GET`: 200 with the caller's key material in upload order, only that of `serials` when given;
/// 204 when there is none.
async fn download(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<axum::response::Response, ApiError> {
    let serials = serials(&uri)?;
    let filter = if state
        .config
        .faults
        .contains(&Fault::KeyMaterialIgnoresSerials)
    {
        None
    } else {
        serials
    };
    let found = state
        .store
        .tx(move |tx| tx.key_material(&caller.fid, filter.as_deref()))
        .await?;
    if found.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let listed: Vec<Value> = found
        .into_iter()
        .map(|m| {
            json!({
                "key_data": m.key_data,
                "serialNumber": m.serial,
                "encryptionAlgorithms": m.algorithms,
            })
        })
        .collect();
    Ok(axum::Json(listed).into_response())
}

/// `DELETE`, a sensitive action (core 4.2): 401, 403 without the actor's second factor, 400
/// without `serials`, 404 when none of them has key material; 204 once theirs is deleted.
async fn remove(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: Uri,
) -> Result<StatusCode, ApiError> {
    let solution = headers
        .get(routes::SENSITIVE_SOLUTION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let fid = caller.fid.clone();
    let password = state
        .store
        .tx(move |tx| tx.actor_password(&fid))
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let unchecked = state
        .config
        .faults
        .contains(&Fault::KeyMaterialDeleteWithoutSecondFactor);
    if !unchecked
        && solution
            .as_deref()
            .is_none_or(|s| !super::core::constant_time_eq(s.as_bytes(), password.as_bytes()))
    {
        return Err(ApiError::SecondFactor);
    }
    let serials = serials(&uri)?.ok_or_else(|| ApiError::bad("serials is required"))?;
    let deleted = state
        .store
        .tx(move |tx| tx.delete_key_material(&caller.fid, &serials))
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET .../size` (no authentication): the limit of one element's `key_data`, in bytes.
async fn size_limit() -> impl IntoResponse {
    (
        [(routes::MAX_PAYLOAD_SIZE_HEADER, KEY_DATA_LIMIT.to_string())],
        StatusCode::OK,
    )
}

/// The `serials` query parameter: serial numbers separated by commas (the document's
/// `explode: false`), also when repeated; `None` without one. Anything but uint64s is a 400.
fn serials(uri: &Uri) -> Result<Option<Vec<u64>>, ApiError> {
    let mut out: Option<Vec<u64>> = None;
    for pair in uri.query().unwrap_or_default().split('&') {
        let Some(("serials", value)) = pair.split_once('=') else {
            continue;
        };
        let list = out.get_or_insert_with(Vec::new);
        for item in value.replace("%2C", ",").replace("%2c", ",").split(',') {
            list.push(
                item.parse()
                    .map_err(|_| ApiError::bad(format!("serials: `{item}` is not a uint64")))?,
            );
        }
    }
    Ok(out)
}
