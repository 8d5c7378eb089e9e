//! Zoho Desk (`desk.zoho.<tld>/api/v1`), scopes `Desk.{resource}.{op}`.
//! Source: <https://desk.zoho.com/DeskAPIDocument#OauthTokens>. Desk's
//! accounts (companies) use the contacts scope. Resources whose scope could
//! not be confirmed (calls, events, products, contracts, ...) are left out
//! and so denied.
//!
//! Desk performs many actions with a POST whose meaning is in the path
//! (`/tickets/moveToTrash` deletes, `/tickets/{id}/merge` updates): those are
//! listed above the generic entries with the operation they really perform.
//! `Desk.basic` has only READ and CREATE: agents and departments are
//! catalogued for GET and POST on the collection only; their updates,
//! deletes and actions are unknown here (a route must state `requires`).
//!
//! Below a resource, only a record (`/tickets/{id}`) and what is under a
//! record (`/tickets/{id}/comments`) take the method's operation. Other
//! collection-level paths (`/tickets/{action}`) are catalogued for GET only:
//! a POST there is an action, and an action not listed here is unknown
//! rather than taken for a CREATE.
//!
//! Not catalogued: `POST /api/v1/uploads` (Desk's upload API): its scope
//! could not be confirmed from Desk's documentation, so a route must state
//! `requires` for it.

use super::{Entry, CRUD, GET_ONLY, GET_POST, POST_DELETE, POST_UPDATE};
use crate::dc::Upstream::Desk;

const DOC: &str = "https://desk.zoho.com/DeskAPIDocument#OauthTokens";
const TICKETS: &str = "https://desk.zoho.com/DeskAPIDocument#Tickets";
const CONTACTS: &str = "https://desk.zoho.com/DeskAPIDocument#Contacts";
const PATH_ACTION: &str =
    "a POST whose path names the action: the operation is what the action does, \
not CREATE";

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
    Entry::new(Desk, "/api/v1/agents", GET_POST, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC)
        .note("agents and departments are listed under both Desk.basic and Desk.settings; both are required. \
Desk.basic has no UPDATE or DELETE: updating, deleting and other agent actions are not catalogued"),
    Entry::new(Desk, "/api/v1/agents/{**}", GET_ONLY, "Desk.basic.READ + Desk.settings.READ", "desk", DOC),
    Entry::new(Desk, "/api/v1/departments", GET_POST, "Desk.basic.{op} + Desk.settings.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/departments/{**}", GET_ONLY, "Desk.basic.READ + Desk.settings.READ", "desk", DOC),
    // ---- actions named in the path (before the generic entries) ----
    Entry::new(Desk, "/api/v1/{desk}/moveToTrash", POST_DELETE, "Desk.{resource}.DELETE", "desk", TICKETS)
        .note(PATH_ACTION),
    Entry::new(Desk, "/api/v1/tickets/{id}/merge", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note(PATH_ACTION),
    Entry::new(Desk, "/api/v1/tickets/{id}/markAsRead", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note(PATH_ACTION),
    Entry::new(Desk, "/api/v1/tickets/{id}/markAsUnRead", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note(PATH_ACTION),
    Entry::new(Desk, "/api/v1/tickets/updateMany", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note(PATH_ACTION),
    Entry::new(Desk, "/api/v1/closeTickets", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note("closes many tickets at once (Desk's \"close many\"): an update of their status"),
    Entry::new(Desk, "/api/v1/contacts/markSpam", POST_UPDATE, "Desk.contacts.UPDATE", "desk", CONTACTS)
        .note("Desk documents Desk.contacts.UPDATE for marking contacts as spam"),
    Entry::new(Desk, "/api/v1/tickets/markSpam", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note("marks tickets (un)spam: an update of the tickets, as for contacts, where Desk documents UPDATE"),
    Entry::new(Desk, "/api/v1/tickets/{id}/move", POST_UPDATE, "Desk.tickets.UPDATE", "desk", TICKETS)
        .note("moves a ticket to another department: an update of its departmentId, which Desk's \
update-ticket call (Desk.tickets.UPDATE) also changes"),
    // ---- records and what is below them; collection-level paths GET only ----
    Entry::new(Desk, "/api/v1/{desk}", CRUD, "Desk.{resource}.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/{desk}/{id}", CRUD, "Desk.{resource}.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/{desk}/{id}/{**}", CRUD, "Desk.{resource}.{op}", "desk", DOC),
    Entry::new(Desk, "/api/v1/{desk}/{**}", GET_ONLY, "Desk.{resource}.READ", "desk", DOC)
        .note("a collection-level path other than a listed action: reads only"),
];
