//! Zoho CRM (API versions v2, v2.1, v3 … v8) on the API host, and CRM file
//! uploads on the content host.
//!
//! Scope names come from Zoho's scope pages
//! (<https://www.zoho.com/crm/developer/docs/api/v8/scopes.html>,
//! <https://www.zoho.com/crm/developer/docs/api/v8/select-api-scopes.html>)
//! and the per-operation `security` blocks of Zoho's own OpenAPI files
//! (<https://github.com/zoho/crm-oas>, `v8.0/*/*.yaml`).
//!
//! Order matters: specific entries come before the generic record and
//! related-list entries that would also match their paths.

use super::{
    Entry, ANY_ALL, CRUD, GET_ONLY, GET_POST, GET_POST_DELETE, GET_READ_POST_DELETE, POST_DELETE,
    POST_ONLY, POST_READ, POST_UPDATE,
};
use crate::dc::Upstream::{Api, Content};
use crate::inspect::Inspect;
use crate::scope::Operation::{Create, Delete, Read, Update, Write};

const SCOPES: &str = "https://www.zoho.com/crm/developer/docs/api/v8/scopes.html";
const OAS: &str = "https://github.com/zoho/crm-oas/tree/main/v8.0";
const RECORDS: &str = "https://www.zoho.com/crm/developer/docs/api/v8/get-records.html";
const RELATED: &str = "https://www.zoho.com/crm/developer/docs/api/v8/get-related-records.html";
const MASS_UPDATE: &str = "https://www.zoho.com/crm/developer/docs/api/v8/mass-update-records.html";
const CONVERT: &str = "https://www.zoho.com/crm/developer/docs/api/v8/convert-lead.html";
const BULK_READ: &str = "https://www.zoho.com/crm/developer/docs/api/v8/bulk-read/overview.html";
const BULK_WRITE: &str = "https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/overview.html";
const FILES: &str = "https://www.zoho.com/crm/developer/docs/api/v8/upload-files-to-zfs.html";
const USERS: &str = "https://www.zoho.com/crm/developer/docs/api/v8/get-users.html";
const ORG: &str = "https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html";
const CURRENCIES: &str =
    "https://www.zoho.com/crm/developer/docs/api/v2.1/get-currencies-data.html";
const ADD_TAGS: &str = "https://www.zoho.com/crm/developer/docs/api/v8/add-tags.html";
const REMOVE_TAGS: &str = "https://www.zoho.com/crm/developer/docs/api/v2.1/remove-tags.html";
const CHANGE_OWNER: &str = "https://www.zoho.com/crm/developer/docs/api/v8/change-owner.html";
const TAGS_NOTE: &str =
    "Zoho documents ZohoCRM.modules.{module}.CREATE (or WRITE/ALL) to add tags and \
ZohoCRM.modules.{module}.WRITE (or ALL) to remove them; nothing else is required";

const COQL_NOTE: &str = "Zoho also checks READ on every module the query reads: the proxy parses select_query \
and requires ZohoCRM.modules.{module}.READ for its FROM module, and ZohoCRM.modules.READ when it uses dotted \
lookup fields (their module is not in the query); a query it cannot parse is refused";
const DISASSOCIATE: &str =
    "https://www.zoho.com/crm/developer/docs/api/v8/disassociate-users-territory.html";
const DISASSOCIATE_NOTE: &str =
    "Zoho documents ZohoCRM.settings.territories.DELETE and ZohoCRM.users.ALL \
(or ZohoCRM.settings.territories.ALL alone); the proxy requires the documented pair";
const DELETE_ONLY: &[(&str, crate::scope::Operation)] = &[("DELETE", Delete)];
type Methods = &'static [(&'static str, crate::scope::Operation)];
const GET_PUT: Methods = &[("GET", Read), ("HEAD", Read), ("PUT", Update)];
const GET_DELETE: Methods = &[("GET", Read), ("HEAD", Read), ("DELETE", Delete)];
const GET_POST_PUT: Methods = &[
    ("GET", Read),
    ("HEAD", Read),
    ("POST", Create),
    ("PUT", Update),
];
const GET_PUT_DELETE: Methods = &[
    ("GET", Read),
    ("HEAD", Read),
    ("PUT", Update),
    ("DELETE", Delete),
];
const GET_POST_PUT_DELETE: Methods = &[
    ("GET", Read),
    ("HEAD", Read),
    ("POST", Create),
    ("PUT", Update),
    ("DELETE", Delete),
];
/// Zoho documents WRITE (or ALL) for these POSTs, not CREATE.
const POST_WRITE: Methods = &[("POST", Write)];
const GET_POST_WRITE_PUT: Methods = &[
    ("GET", Read),
    ("HEAD", Read),
    ("POST", Write),
    ("PUT", Update),
];

const SEARCH: &str = "https://www.zoho.com/crm/developer/docs/api/v8/search-records.html";
const SEARCH_NOTE: &str = "Zoho documents ZohoCRM.modules.{module}.READ (or ALL) and \
ZohoSearch.securesearch.READ: both are required, as written. A deployment whose tokens search without the \
ZohoSearch scope can relax it on its route with requires = [\"ZohoCRM.modules.{module}.READ\"]";
const CONTACT_ROLES_NOTE: &str = "Zoho documents the deals and the contacts scope with the same \
operation (READ to read, UPDATE to add a role, DELETE to remove one); adding a role to a deal with POST is \
not documented and is unknown here";
const MERGE_NOTE: &str = "merging keeps the master record and deletes the others: Zoho documents \
ZohoCRM.modules.{module}.WRITE (or ALL), so CREATE, UPDATE and DELETE granted separately do not cover it";
const MASS_CONVERT_NOTE: &str = "Zoho documents ZohoCRM.mass_convert.leads.CREATE only. Converting \
creates Contacts, Accounts and possibly Deals, which Zoho allows with that scope alone: a route granting it \
grants that";
const CONVERT_NOTE: &str = "Zoho documents ZohoCRM.modules.leads.CREATE (or WRITE, ALL; or \
ZohoCRM.modules.ALL) only. Converting creates a Contact, an Account and possibly a Deal, which Zoho allows \
with that scope alone: a route granting it grants that";
const PARENT_NOTE: &str = "stricter reading: Zoho documents the related module's scope; \
the parent module's READ is required too because the call reveals the parent record";
const UNKNOWN_REL_NOTE: &str =
    "related list whose module the proxy cannot tell from its API name: \
requires the all-modules scope Zoho's OpenAPI lists (ZohoCRM.modules.{op}) plus the parent's READ";
const CUSTOM_NOTE: &str = "module API names not in the standard-module table are treated as custom modules \
(ZohoCRM.modules.custom.*); unknown system modules (API names ending in __s) are not matched at all";

/// Standard CRM modules: API name → scope name. Compared ignoring ASCII
/// case and underscores (Zoho accepts module names case-insensitively).
pub(super) const MODULES: &[(&str, &str)] = &[
    ("Leads", "leads"),
    ("Accounts", "accounts"),
    ("Contacts", "contacts"),
    ("Deals", "deals"),
    ("Campaigns", "campaigns"),
    ("Tasks", "tasks"),
    ("Cases", "cases"),
    ("Events", "events"),
    ("Calls", "calls"),
    ("Solutions", "solutions"),
    ("Products", "products"),
    ("Vendors", "vendors"),
    ("Price_Books", "pricebooks"),
    ("Quotes", "quotes"),
    ("Sales_Orders", "salesorders"),
    ("Purchase_Orders", "purchaseorders"),
    ("Invoices", "invoices"),
    ("Notes", "notes"),
    ("Attachments", "attachments"),
    ("Activities", "activities"),
    ("Appointments__s", "appointments"),
    ("Services__s", "services"),
    (
        "Appointments_Rescheduled_History__s",
        "appointments_rescheduled_history",
    ),
];

/// Related-list API names that are not module names → scope name.
const RELATED_ALIASES: &[(&str, &str)] = &[("Emails", "emails"), ("Invited_Events", "events")];

/// Related lists with entries of their own, whose scopes are not the generic
/// "parent READ + related {op}": a Deal's `Contact_Roles` needs deals and
/// contacts with the same operation. The generic related-list entries never
/// match them, so a method their entries do not list is unknown.
const OWN_FAMILY_RELATED: &[&str] = &["Contact_Roles"];

/// Whether `seg` names a related list catalogued by its own entries.
pub(super) fn own_family_related(seg: &str) -> bool {
    OWN_FAMILY_RELATED.iter().any(|r| normalize_eq(r, seg))
}

/// Path segments under /crm/{v}/ that are never module names.
const RESERVED_MODULES: &[&str] = &[
    "settings",
    "users",
    "org",
    "coql",
    "actions",
    "functions",
    "files",
    "upload",
    "bulk",
    "read",
    "write",
    "search",
    "upsert",
    "deleted",
    "photo",
];

/// Segments after /{module}/{id}/ that are not related lists.
pub(super) const RESERVED_RELATED: &[&str] = &["actions", "photo", "deleted", "search", "upsert"];

/// Equal ignoring ASCII case and underscores, as Zoho compares module and
/// related-list API names.
pub(super) fn normalize_eq(a: &str, b: &str) -> bool {
    // Compared byte by byte, without allocating: this runs for every request.
    fn folded(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.bytes()
            .filter(|b| *b != b'_')
            .map(|b| b.to_ascii_lowercase())
    }
    folded(a).eq(folded(b))
}

/// Scope name of a module API name: a standard module's name, `custom` for
/// other identifiers, `None` for reserved words and unknown `__s` modules.
pub(super) fn module_scope(seg: &str) -> Option<&'static str> {
    if !super::identifier(seg) || RESERVED_MODULES.iter().any(|r| r.eq_ignore_ascii_case(seg)) {
        return None;
    }
    if let Some((_, scope)) = MODULES.iter().find(|(api, _)| normalize_eq(api, seg)) {
        return Some(scope);
    }
    let tail = seg.len().checked_sub(3).and_then(|i| seg.get(i..));
    if tail.is_some_and(|t| t.eq_ignore_ascii_case("__s")) {
        return None;
    }
    Some("custom")
}

/// Modules whose records always belong to a parent record in another module
/// (`Parent_Id`): Zoho checks the parent module's scope as well as theirs,
/// and a top-level path (`/crm/vN/Notes`, `/crm/vN/Attachments/{id}`) does
/// not name the parent. The path matcher does not take them as `{module}`, so
/// those paths are unknown to the catalog (a route must state `requires`);
/// as related lists (`/crm/vN/{Module}/{id}/Notes`) they keep requiring the
/// parent's scope. Source: `shared/zoho-reference.md`, "Scope corrections".
pub(super) const PARENTED: &[&str] = &["notes", "attachments"];

/// Scope name of a module API name in the `{module}` position of a path:
/// [`module_scope`], except the [`PARENTED`] modules.
pub(super) fn path_module_scope(seg: &str) -> Option<&'static str> {
    module_scope(seg).filter(|m| !PARENTED.contains(m))
}

/// Scope name of a related list whose module is known. `Activities` is
/// left out on purpose: since v3 it spans Tasks, Events and Calls.
pub(super) fn related_scope(seg: &str) -> Option<&'static str> {
    RELATED_ALIASES
        .iter()
        .chain(MODULES.iter())
        .find(|(api, scope)| *scope != "activities" && normalize_eq(api, seg))
        .map(|(_, scope)| *scope)
        .filter(|_| !own_family_related(seg))
}

/// /crm/{v}/settings/{setting} → name after `ZohoCRM.` (from crm-oas).
pub(super) const SETTINGS: &[(&str, &str)] = &[
    ("fields", "settings.fields"),
    ("modules", "settings.modules"),
    ("layouts", "settings.layouts"),
    ("related_lists", "settings.related_lists"),
    ("custom_views", "settings.custom_views"),
    ("pipeline", "settings.pipeline"),
    ("tags", "settings.tags"),
    ("variables", "settings.variables"),
    ("variable_groups", "settings.variable_groups"),
    ("profiles", "settings.profiles"),
    ("roles", "settings.roles"),
    ("territories", "settings.territories"),
    ("currencies", "settings.currencies"),
    ("tab_groups", "settings.tab_groups"),
    ("macros", "settings.macros"),
    ("custom_links", "settings.custom_links"),
    ("custom_buttons", "settings.custom_buttons"),
    ("business_hours", "settings.business_hours"),
    ("holidays", "settings.business_hours"),
    ("fiscal_year", "settings.fiscal_year"),
    ("user_groups", "settings.user_groups"),
    ("global_picklists", "settings.global_picklist"),
    (
        "duplicate_check_preference",
        "settings.duplicate_check_preference",
    ),
    ("data_sharing", "settings.data_sharing"),
    ("recycle_bin", "settings.recycle_bin"),
    (
        "record_locking_configurations",
        "settings.record_locking_configurations",
    ),
    ("emails", "settings.emails"),
    ("wizards", "settings.wizards"),
    ("audit_log_export", "settings.audit_logs"),
    ("portals", "settings.clientportal"),
    ("unsubscribe_links", "settings.unsubscribe"),
    ("call_preferences", "settings.modules"),
    ("service_preferences", "settings.modules"),
    ("appointment_preferences", "org"),
    ("email_templates", "templates.email"),
    ("inventory_templates", "templates.inventory"),
];

/// /crm/{v}/settings/automation/{automation} → name after `ZohoCRM.`.
pub(super) const AUTOMATION: &[(&str, &str)] = &[
    ("assignment_rules", "settings.assignment_rules"),
    ("workflow_rules", "settings.workflow_rules"),
    ("scoring_rules", "settings.scoring_rules"),
    ("cadences", "settings.cadences"),
    ("field_updates", "settings.automation_actions"),
    ("webhooks", "settings.automation_actions"),
    ("webhook_failures", "settings.automation_actions"),
    ("tasks", "settings.automation_actions"),
    ("email_notifications", "settings.automation_actions"),
];

const fn api(
    path: &'static str,
    methods: &'static [(&'static str, crate::scope::Operation)],
    scopes: &'static str,
    family: &'static str,
    doc: &'static str,
) -> Entry {
    Entry::new(Api, path, methods, scopes, family, doc)
}

#[rustfmt::skip]
pub(super) const ENTRIES: &[Entry] = &[
    // ---- COQL, composite, notifications, functions, system endpoints ----
    api("/crm/{v}/coql", POST_READ, "ZohoCRM.coql.READ", "crm.coql",
        "https://www.zoho.com/crm/developer/docs/api/v8/COQL-Overview.html")
        .heavy().note(COQL_NOTE).inspect(Inspect::Coql),
    api("/crm/{v}/__composite_requests", POST_ONLY,
        "ZohoCRM.composite_requests.CUSTOM", "crm.composite",
        "https://www.zoho.com/crm/developer/docs/api/v8/composite-api.html")
        .heavy()
        .inspect(Inspect::Composite)
        .note("Zoho requires ZohoCRM.composite_requests.CUSTOM and the scope of every sub-request: the proxy \
checks each sub-request (method + uri) against this catalog and the route's scopes as if it were sent alone; \
counted as heavy because sub-requests may be"),
    api("/crm/{v}/actions/watch", CRUD, "ZohoCRM.notifications.{op}", "crm.notifications",
        "https://www.zoho.com/crm/developer/docs/api/v8/notifications/overview.html"),
    api("/crm/{v}/functions/{name}/actions/execute", &[("GET", Read), ("POST", Create)],
        "ZohoCRM.functions.execute.{op}", "crm.functions",
        "https://www.zoho.com/crm/developer/docs/functions/serverless-fn-apis.html")
        .note("the function runs server-side with its own permissions; the scope only gates invoking it"),
    api("/crm/{v}/__features", GET_ONLY, "ZohoCRM.features.READ", "crm.features", OAS),
    api("/crm/{v}/__features/{name}", GET_ONLY, "ZohoCRM.features.READ", "crm.features", OAS),
    api("/crm/{v}/__apis", GET_ONLY, "ZohoCRM.apis.READ", "crm.apis", OAS),
    // ---- Files (ZFS) and bulk-write upload ----
    Entry::new(Content, "/crm/{v}/files", GET_POST, "ZohoCRM.Files.{op}", "crm.files", FILES)
        .note("Zoho's docs write ZohoCRM.Files.*, its OpenAPI files ZohoCRM.files.*; scope names compare \
ignoring case, so either spelling is accepted"),
    api("/crm/{v}/files", GET_POST, "ZohoCRM.Files.{op}", "crm.files", FILES),
    Entry::new(Content, "/crm/{v}/upload", POST_ONLY, "ZohoFiles.files.ALL", "crm.bulk",
        "https://www.zoho.com/crm/developer/docs/api/v8/bulk-write/upload-file.html").heavy(),
    // ---- Bulk read / write (the version sits after /bulk/) ----
    api("/crm/bulk/{v}/read", POST_READ, "ZohoCRM.bulk.READ", "crm.bulk", BULK_READ)
        .heavy()
        .inspect(Inspect::BulkRead)
        .note("the module to export is in the body (query.module.api_name): the proxy requires its READ, \
and ZohoCRM.modules.READ when fields or criteria use dotted lookup fields"),
    api("/crm/bulk/{v}/read/{id}", GET_ONLY, "ZohoCRM.bulk.READ + ZohoCRM.modules.READ", "crm.bulk", BULK_READ).heavy(),
    api("/crm/bulk/{v}/read/{id}/result", GET_ONLY, "ZohoCRM.bulk.READ + ZohoCRM.modules.READ", "crm.bulk", BULK_READ)
        .heavy()
        .note("the job id does not say which module was exported: READ on all modules is required"),
    api("/crm/bulk/{v}/write", POST_ONLY, "ZohoCRM.bulk.CREATE", "crm.bulk", BULK_WRITE)
        .heavy()
        .inspect(Inspect::BulkWrite)
        .note("a bulk write job inserts, updates or upserts into the modules named in the body \
(resource[].module): the proxy requires CREATE and UPDATE on each, whatever the operation"),
    api("/crm/bulk/{v}/write/{id}", GET_ONLY, "ZohoCRM.bulk.CREATE", "crm.bulk", BULK_WRITE)
        .heavy()
        .note("Zoho's OpenAPI requires ZohoCRM.bulk.CREATE to read a bulk write job's status"),
    // ---- Users ----
    api("/crm/{v}/users", CRUD, "ZohoCRM.users.{op}", "crm.users", USERS),
    api("/crm/{v}/users/actions/count", GET_ONLY, "ZohoCRM.users.READ", "crm.users", USERS),
    api("/crm/{v}/users/{id}", CRUD, "ZohoCRM.users.{op}", "crm.users", USERS),
    api("/crm/{v}/users/{id}/territories", &[("GET", Read), ("HEAD", Read), ("PUT", Update), ("DELETE", Delete)],
        "ZohoCRM.users.{op} + ZohoCRM.settings.territories.{op}", "crm.users", USERS),
    api("/crm/{v}/users/{id}/territories/{id}", &[("GET", Read), ("HEAD", Read), ("DELETE", Delete)],
        "ZohoCRM.users.{op} + ZohoCRM.settings.territories.{op}", "crm.users", USERS),
    api("/crm/{v}/users/{id}/actions/associated_groups", GET_ONLY,
        "ZohoCRM.users.READ + ZohoCRM.settings.user_groups.READ", "crm.users", USERS),
    api("/crm/{v}/users/actions/transfer_and_delete", GET_POST,
        "ZohoCRM.users.{op} + ZohoCRM.users.DELETE + ZohoCRM.change_owner.{op}", "crm.users", USERS)
        .note("transfer-and-delete moves a user's records and deletes the user: stricter reading \
requires users DELETE and change_owner besides what Zoho's OpenAPI lists"),
    api("/crm/{v}/users/{id}/actions/transfer_and_delete", POST_ONLY,
        "ZohoCRM.users.CREATE + ZohoCRM.users.DELETE + ZohoCRM.change_owner.CREATE", "crm.users", USERS),
    api("/crm/{v}/users/actions/transfer", GET_ONLY, "ZohoCRM.change_owner.READ", "crm.users", USERS),
    api("/crm/{v}/users/{id}/actions/transfer", POST_ONLY,
        "ZohoCRM.change_owner.CREATE + ZohoCRM.users.UPDATE", "crm.users", USERS),
    api("/crm/{v}/users/{id}/actions/validate_before_transfer", GET_ONLY,
        "ZohoCRM.change_owner.READ", "crm.users", USERS),
    // ---- Org ----
    api("/crm/{v}/org", CRUD, "ZohoCRM.org.{op}", "crm.org", ORG),
    api("/crm/{v}/org/photo", GET_POST_DELETE, "ZohoCRM.org.{op}", "crm.org", ORG),
    api("/crm/{v}/org/currencies", CRUD, "ZohoCRM.settings.currencies.{op}", "crm.org", CURRENCIES)
        .note("Zoho documents ZohoCRM.settings.currencies.* for /org/currencies (not ZohoCRM.org.*)"),
    api("/crm/{v}/org/currencies/actions/enable", CRUD, "ZohoCRM.settings.currencies.{op}", "crm.org",
        "https://www.zoho.com/crm/developer/docs/api/v8/enable-multi-currency.html"),
    api("/crm/{v}/org/currencies/{id}", CRUD, "ZohoCRM.settings.currencies.{op}", "crm.org", CURRENCIES),
    // ---- Settings: documented exceptions first ----
    api("/crm/{v}/settings/tags/actions/mass_delete", GET_READ_POST_DELETE, "ZohoCRM.settings.tags.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/tags/{id}/actions/{name}", ANY_ALL, "ZohoCRM.settings.tags.ALL", "crm.settings", OAS)
        .note("Zoho's OpenAPI requires ZohoCRM.settings.tags.ALL for tag actions (merge, records_count)"),
    api("/crm/{v}/settings/recycle_bin/actions/count", GET_ONLY, "ZohoCRM.settings.recycle_bin.READ", "crm.settings", OAS),
    api("/crm/{v}/settings/recycle_bin/actions/{name}", POST_UPDATE, "ZohoCRM.settings.recycle_bin.UPDATE", "crm.settings", OAS),
    api("/crm/{v}/settings/recycle_bin/{id}/actions/restore", POST_UPDATE, "ZohoCRM.settings.recycle_bin.UPDATE", "crm.settings", OAS),
    api("/crm/{v}/settings/territories/actions/transfer_and_delete", POST_DELETE, "ZohoCRM.settings.territories.DELETE", "crm.settings", OAS),
    api("/crm/{v}/settings/territories/{id}/actions/transfer_and_delete", POST_DELETE, "ZohoCRM.settings.territories.DELETE", "crm.settings", OAS),
    api("/crm/{v}/settings/territories/actions/associated_users_count", GET_ONLY,
        "ZohoCRM.settings.territories.ALL + ZohoCRM.users.ALL", "crm.settings",
        "https://www.zoho.com/crm/developer/docs/api/v8/associated-user-count.html"),
    api("/crm/{v}/settings/territories/{id}/users", DELETE_ONLY,
        "ZohoCRM.settings.territories.DELETE + ZohoCRM.users.ALL", "crm.settings", DISASSOCIATE)
        .note(DISASSOCIATE_NOTE),
    api("/crm/{v}/settings/territories/{id}/users/{id}", DELETE_ONLY,
        "ZohoCRM.settings.territories.DELETE + ZohoCRM.users.ALL", "crm.settings", DISASSOCIATE)
        .note(DISASSOCIATE_NOTE),
    api("/crm/{v}/settings/territories/{id}/users", CRUD,
        "ZohoCRM.users.{op} + ZohoCRM.settings.territories.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/territories/{id}/users/{id}", CRUD,
        "ZohoCRM.users.{op} + ZohoCRM.settings.territories.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/global_picklists/{id}/actions/pick_list_values_associations", ANY_ALL,
        "ZohoCRM.settings.global_picklist.ALL", "crm.settings", OAS),
    api("/crm/{v}/settings/global_picklists/{id}/actions/replace_picklist_values", ANY_ALL,
        "ZohoCRM.settings.global_picklist.ALL", "crm.settings", OAS),
    api("/crm/{v}/settings/layouts/{id}/map_dependency", CRUD, "ZohoCRM.settings.map_dependency.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/layouts/{id}/map_dependency/{id}", CRUD, "ZohoCRM.settings.map_dependency.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/users_unavailability", GET_POST_WRITE_PUT,
        "ZohoCRM.settings.users_unavailability.{op}", "crm.users_unavailability",
        "https://www.zoho.com/crm/developer/docs/api/v8/post-user-unavailability.html")
        .note("Zoho documents READ to read, WRITE (or ALL) to mark a user unavailable and UPDATE \
(or WRITE, ALL) to change it (get-user-unavailability.html, update-user-unavailability.html); \
deleting is not documented and is unknown here"),
    api("/crm/{v}/settings/users_unavailability/{id}", GET_PUT,
        "ZohoCRM.settings.users_unavailability.{op}", "crm.users_unavailability",
        "https://www.zoho.com/crm/developer/docs/api/v8/update-user-unavailability.html"),
    api("/crm/{v}/settings/automation/cadences", GET_ONLY, "ZohoCRM.settings.cadences.READ", "crm.cadences",
        "https://www.zoho.com/crm/developer/docs/api/v8/cadences/get-cadences.html"),
    // ---- Settings: generic ----
    api("/crm/{v}/settings/automation/{automation}", CRUD, "ZohoCRM.{setting}.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/automation/{automation}/{**}", CRUD, "ZohoCRM.{setting}.{op}", "crm.settings", OAS),
    api("/crm/{v}/settings/{setting}", CRUD, "ZohoCRM.{setting}.{op}", "crm.settings", SCOPES),
    api("/crm/{v}/settings/{setting}/{**}", CRUD, "ZohoCRM.{setting}.{op}", "crm.settings", SCOPES),
    // ---- Module-level actions ----
    api("/crm/{v}/{module}/upsert", POST_ONLY, "ZohoCRM.modules.{module}.CREATE", "crm.upsert",
        "https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html")
        .heavy()
        .note("Zoho documents ZohoCRM.modules.{module}.CREATE (or WRITE, ALL) for upsert, although it may \
update an existing record: a grant of CREATE lets Zoho update through upsert, and so does this catalog"),
    api("/crm/{v}/{module}/search", GET_ONLY,
        "ZohoCRM.modules.{module}.READ + ZohoSearch.securesearch.READ", "crm.search", SEARCH)
        .note(SEARCH_NOTE),
    api("/crm/{v}/{module:contacts}/roles", GET_POST_PUT_DELETE, "ZohoCRM.modules.contacts.{op}",
        "crm.contact_roles", "https://www.zoho.com/crm/developer/docs/api/v8/get-contact-roles.html")
        .note("contact roles are the picklist of roles a contact can have in a deal; Zoho documents \
ZohoCRM.modules.contacts.{op} for listing, inserting, updating and deleting them"),
    api("/crm/{v}/{module:contacts}/roles/{id}", GET_PUT_DELETE, "ZohoCRM.modules.contacts.{op}",
        "crm.contact_roles", "https://www.zoho.com/crm/developer/docs/api/v8/get-contact-roles.html"),
    api("/crm/{v}/{module}/actions/enrol_in_cadences", POST_ONLY, "ZohoCRM.modules.{module}.CREATE",
        "crm.cadences", "https://www.zoho.com/crm/developer/docs/api/v8/cadences/enroll.html"),
    api("/crm/{v}/{module}/actions/unenrol_from_cadences", POST_ONLY, "ZohoCRM.modules.{module}.CREATE",
        "crm.cadences", "https://www.zoho.com/crm/developer/docs/api/v8/cadences/unenroll.html")
        .note("Zoho documents ZohoCRM.modules.{module}.CREATE (or ALL) for un-enrolling too"),
    api("/crm/{v}/{module}/deleted", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.records",
        "https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html"),
    api("/crm/{v}/{module}/actions/count", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.records",
        "https://www.zoho.com/crm/developer/docs/api/v8/get-record-count.html"),
    api("/crm/{v}/{module}/actions/fetch_full_data", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.records", OAS),
    api("/crm/{v}/{module}/actions/mass_update", &[("GET", Read), ("POST", Update)],
        "ZohoCRM.mass_update.{module}.{op}", "crm.mass_update", MASS_UPDATE)
        .heavy()
        .note("Zoho documents ZohoCRM.mass_update.{module}.UPDATE to update and .READ for the job status \
(https://www.zoho.com/crm/developer/docs/api/v8/mass-update-status.html); ZohoCRM.mass_update.UPDATE/READ \
covers every module"),
    api("/crm/{v}/{module}/actions/mass_delete", GET_READ_POST_DELETE,
        "ZohoCRM.mass_delete.{module}.{op}", "crm.mass_delete",
        "https://www.zoho.com/crm/developer/docs/api/v8/mass-delete.html")
        .heavy()
        .note("Zoho documents ZohoCRM.mass_delete.{module}.DELETE (or ZohoCRM.mass_delete.DELETE, which covers \
every module) to delete, and .READ for the job status; no module scope. Marked heavy conservatively"),
    api("/crm/{v}/{module}/actions/change_owner", POST_ONLY,
        "ZohoCRM.change_owner.CREATE", "crm.change_owner", CHANGE_OWNER)
        .note("Zoho documents ZohoCRM.change_owner.CREATE only"),
    api("/crm/{v}/{module}/actions/mass_change_owner", GET_POST,
        "ZohoCRM.change_owner.{op} + ZohoCRM.modules.{module}.{op}", "crm.change_owner",
        "https://www.zoho.com/crm/developer/docs/api/v8/change-owner.html")
        .heavy(),
    api("/crm/{v}/{module:leads}/actions/mass_convert", POST_ONLY, "ZohoCRM.mass_convert.leads.CREATE",
        "crm.convert", "https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-lead.html")
        .heavy()
        .note(MASS_CONVERT_NOTE),
    api("/crm/{v}/{module:leads}/actions/mass_convert", GET_ONLY, "ZohoCRM.mass_convert.leads.READ",
        "crm.convert", "https://www.zoho.com/crm/developer/docs/api/v8/mass-convert-status.html")
        .heavy()
        .note("the status of a mass convert job: Zoho documents ZohoCRM.mass_convert.leads.READ only"),
    api("/crm/{v}/{module}/actions/add_tags", POST_ONLY,
        "ZohoCRM.modules.{module}.CREATE", "crm.tags", ADD_TAGS).note(TAGS_NOTE),
    api("/crm/{v}/{module}/actions/remove_tags", POST_ONLY,
        "ZohoCRM.modules.{module}.WRITE", "crm.tags", REMOVE_TAGS).note(TAGS_NOTE),
    api("/crm/{v}/{module}/actions/assign_territories", POST_ONLY, "ZohoCRM.modules.{module}.UPDATE", "crm.records", OAS),
    api("/crm/{v}/{module}/actions/remove_territories", POST_ONLY, "ZohoCRM.modules.{module}.UPDATE", "crm.records", OAS),
    // ---- Record-level actions ----
    api("/crm/{v}/{module:leads}/{id}/actions/convert", POST_ONLY, "ZohoCRM.modules.leads.CREATE",
        "crm.convert", CONVERT)
        .heavy()
        .note(CONVERT_NOTE),
    api("/crm/{v}/{module:leads}/{id}/__conversion_options", GET_ONLY, "ZohoCRM.modules.leads.READ", "crm.convert", CONVERT),
    api("/crm/{v}/{module:quotes}/{id}/actions/convert", POST_ONLY,
        "ZohoCRM.modules.quotes.READ + ZohoCRM.modules.salesorders.CREATE + ZohoCRM.modules.invoices.CREATE",
        "crm.convert", OAS)
        .heavy()
        .note("a Quote converts to a Sales Order and/or Invoice named in the body: both CREATE scopes are required"),
    api("/crm/{v}/{module:salesorders}/{id}/actions/convert", POST_ONLY,
        "ZohoCRM.modules.salesorders.READ + ZohoCRM.modules.invoices.CREATE", "crm.convert", OAS)
        .heavy(),
    api("/crm/{v}/{module}/{id}/actions/send_mail", POST_ONLY,
        "ZohoCRM.send_mail.{module}.CREATE + ZohoCRM.modules.{module}.READ", "crm.send_mail",
        "https://www.zoho.com/crm/developer/docs/api/v8/send-mail.html")
        .heavy()
        .note("ZohoCRM.send_mail.all.CREATE covers every module (see scope::COVER_EXCEPTIONS); the record's READ is required too"),
    api("/crm/{v}/{module}/{id}/actions/blueprint", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.blueprint",
        "https://www.zoho.com/crm/developer/docs/api/v8/blueprint-details.html"),
    api("/crm/{v}/{module}/{id}/actions/blueprint", &[("PUT", Update)], "ZohoCRM.modules.{module}.UPDATE",
        "crm.blueprint", "https://www.zoho.com/crm/developer/docs/api/v8/update-blueprint.html")
        .note("Zoho documents ZohoCRM.modules.{module}.UPDATE (or WRITE, ALL) to move a record through a \
transition"),
    api("/crm/{v}/{module}/{id}/actions/merge", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.merge",
        "https://www.zoho.com/crm/developer/docs/api/v8/get-merge-status.html"),
    api("/crm/{v}/{module}/{id}/actions/merge", POST_WRITE, "ZohoCRM.modules.{module}.WRITE", "crm.merge",
        "https://www.zoho.com/crm/developer/docs/api/v8/merge-records.html")
        .note(MERGE_NOTE),
    api("/crm/{v}/{module:deals}/{id}/{=Contact_Roles}", GET_DELETE,
        "ZohoCRM.modules.deals.{op} + ZohoCRM.modules.contacts.{op}", "crm.contact_roles",
        "https://www.zoho.com/crm/developer/docs/api/v8/get-contact-roles-of-a-specific-deal.html")
        .note(CONTACT_ROLES_NOTE),
    api("/crm/{v}/{module:deals}/{id}/{=Contact_Roles}/{id}", GET_PUT_DELETE,
        "ZohoCRM.modules.deals.{op} + ZohoCRM.modules.contacts.{op}", "crm.contact_roles",
        "https://www.zoho.com/crm/developer/docs/api/v8/add-contact-roles-to-a-specific-deal.html")
        .note(CONTACT_ROLES_NOTE),
    api("/crm/{v}/{module}/{id}/__email_drafts", GET_POST_PUT, "ZohoCRM.modules.{module}.{op}",
        "crm.email_drafts", "https://www.zoho.com/crm/developer/docs/api/v8/get-drafts.html")
        .note("Zoho documents ZohoCRM.Modules.{module}.{op} (READ, CREATE, UPDATE) for a record's drafts; \
scope names compare ignoring case"),
    api("/crm/{v}/{module}/{id}/__email_drafts/{name}", GET_PUT_DELETE, "ZohoCRM.modules.{module}.{op}",
        "crm.email_drafts", "https://www.zoho.com/crm/developer/docs/api/v8/update-draft.html"),
    api("/crm/{v}/{module}/{id}/actions/share", CRUD, "ZohoCRM.share.{module}.{op}", "crm.share",
        "https://www.zoho.com/crm/developer/docs/api/v8/share-records.html"),
    api("/crm/{v}/{module}/{id}/actions/clone", POST_ONLY,
        "ZohoCRM.modules.{module}.READ + ZohoCRM.modules.{module}.CREATE", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/actions/change_owner", POST_ONLY,
        "ZohoCRM.change_owner.CREATE", "crm.change_owner", CHANGE_OWNER)
        .note("Zoho documents ZohoCRM.change_owner.CREATE only"),
    api("/crm/{v}/{module}/{id}/actions/add_tags", POST_ONLY,
        "ZohoCRM.modules.{module}.CREATE", "crm.tags", ADD_TAGS).note(TAGS_NOTE),
    api("/crm/{v}/{module}/{id}/actions/remove_tags", POST_ONLY,
        "ZohoCRM.modules.{module}.WRITE", "crm.tags", REMOVE_TAGS).note(TAGS_NOTE),
    api("/crm/{v}/{module}/{id}/actions/assign_territories", POST_ONLY, "ZohoCRM.modules.{module}.UPDATE", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/actions/remove_territories", POST_ONLY, "ZohoCRM.modules.{module}.UPDATE", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/actions/fetch_full_data", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/actions/get_related_records_count", POST_READ, "ZohoCRM.modules.{module}.READ", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/__timeline", GET_ONLY, "ZohoCRM.modules.{module}.READ", "crm.records", OAS),
    api("/crm/{v}/{module}/{id}/photo", GET_POST_DELETE, "ZohoCRM.modules.{module}.{op}", "crm.photo",
        "https://www.zoho.com/crm/developer/docs/api/v8/upload-record-photo.html"),
    // ---- Records ----
    api("/crm/{v}/{module}", CRUD, "ZohoCRM.modules.{module}.{op}", "crm.records", RECORDS).note(CUSTOM_NOTE),
    api("/crm/{v}/{module}/{id}", CRUD, "ZohoCRM.modules.{module}.{op}", "crm.records", RECORDS).note(CUSTOM_NOTE),
    // ---- Related lists (Notes, Attachments, Contacts, ...) ----
    api("/crm/{v}/{module}/{id}/{rel}", CRUD,
        "ZohoCRM.modules.{module}.READ + ZohoCRM.modules.{rel}.{op}", "crm.related", RELATED)
        .note(PARENT_NOTE),
    api("/crm/{v}/{module}/{id}/{rel}/{id}", CRUD,
        "ZohoCRM.modules.{module}.READ + ZohoCRM.modules.{rel}.{op}", "crm.related", RELATED)
        .note(PARENT_NOTE),
    api("/crm/{v}/{module}/{id}/{related}", CRUD,
        "ZohoCRM.modules.{module}.READ + ZohoCRM.modules.{op}", "crm.related", RELATED)
        .note(UNKNOWN_REL_NOTE),
    api("/crm/{v}/{module}/{id}/{related}/{id}", CRUD,
        "ZohoCRM.modules.{module}.READ + ZohoCRM.modules.{op}", "crm.related", RELATED)
        .note(UNKNOWN_REL_NOTE),
];
