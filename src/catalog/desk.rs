//! Zoho Desk (`desk.zoho.<tld>/api/v1`), scopes `Desk.{resource}.{op}`.
//! Source: <https://desk.zoho.com/DeskAPIDocument#OauthTokens>. Desk's
//! accounts (companies) use the contacts scope. Resources whose scope could
//! not be confirmed (calls, events, products, contracts, ...) are left out
//! and so denied.

use super::{Entry, CRUD, GET_ONLY};
use crate::dc::Upstream::Desk;

const DOC: &str = "https://desk.zoho.com/DeskAPIDocument#OauthTokens";

/// Desk path resource → scope name.
pub(super) const RESOURCES: &[(&str, &str)] = &[
    ("tickets", "tickets"),
    ("contacts", "contacts"),
    ("accounts", "contacts"),
    ("tasks", "tasks"),
    ("articles", "articles"),
];

#[rustfmt::skip]
pub(super) const ENTRIES: &[Entry] = &[
    Entry::new(Desk, "/api/v1/search", GET_ONLY,
        "Desk.search.READ + Desk.tickets.READ + Desk.contacts.READ + Desk.tasks.READ", "desk.search", DOC)
        .note("cross-module search returns tickets, contacts, accounts and tasks: stricter reading requires READ on each"),
    Entry::new(Desk, "/api/v1/{desk}/search", GET_ONLY, "Desk.search.READ + Desk.{resource}.READ", "desk.search", DOC),
    Entry::new(Desk, "/api/v1/organizations", GET_ONLY, "Desk.basic.READ + Desk.settings.READ", "desk", DOC)
        .note("Desk documents Desk.basic.READ; Desk.settings.READ is required too (stricter reading)"),
    Entry::new(Desk, "/api/v1/organizations/{id}", GET_ONLY, "Desk.basic.READ + Desk.settings.READ", "desk", DOC),
    Entry::new(Desk, "/api/v1/agents", CRUD, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC)
        .note("agents and departments are listed under both Desk.basic and Desk.settings; both are required"),
    Entry::new(Desk, "/api/v1/agents/{**}", CRUD, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/departments", CRUD, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/departments/{**}", CRUD, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/{desk}", CRUD, "Desk.{resource}.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/{desk}/{**}", CRUD, "Desk.{resource}.{op}", "desk", DOC),
];
