// Generated code must not depend on names the user can shadow.
#![allow(dead_code, non_camel_case_types)]

use serde::{Deserialize, Serialize};
use session_core::{Expiring, Flash, SessionData};

mod core {}
mod std {}
struct Option;
struct Result;
struct Some;
struct None;
struct From;
struct Self_;
type Schema = ();
type SchemaPrefix = ();
trait SessionDataShadow {}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app")]
struct AppSessionV1 {
    user_id: ::core::option::Option<u64>,
}

#[derive(SessionData, Serialize, Deserialize, Default)]
#[session(name = "app", version = 2, migrate_from = AppSessionV1)]
struct AppSession {
    user_id: ::core::option::Option<u64>,
    #[session(expires_in = "5m")]
    sudo: Expiring<bool>,
    #[session(flash)]
    notice: Flash<::std::string::String>,
    #[session(default)]
    theme: ::std::string::String,
}

impl ::core::convert::From<AppSessionV1> for AppSession {
    fn from(old: AppSessionV1) -> Self {
        Self { user_id: old.user_id, ..::core::default::Default::default() }
    }
}

fn main() {}
