//! Zoho's finance apps on the API host: Books (`/books/v3`) and Inventory
//! (`/inventory/v1`). Both name scopes `Service.{entity}.{op}`, where the
//! scope entity is not always the path entity (`/books/v3/organizations` is
//! `ZohoBooks.settings`), hence the tables.
//!
//! Operations: Books and Inventory document, endpoint by endpoint, one of
//! READ, CREATE, UPDATE and DELETE, and it is the method's: GET reads, POST
//! creates, and so do POST actions (`…/status/sent`, `…/email`, `…/approve`:
//! `ZohoBooks.invoices.CREATE`), PUT updates, DELETE deletes. `ALL` covers
//! all four. Neither documents `WRITE`: a granted `ZohoBooks.{entity}.WRITE`
//! covers nothing here (see `scope::WRITE_ALIAS`). `ZohoBooks.fullaccess.all`
//! covers every Books scope (`scope::COVER_EXCEPTIONS`).
//!
//! Some Books entities take another entity's scope: retainer invoices and
//! sales receipts are invoices (`ZohoBooks.invoices.*`, as their pages
//! document), listed with their own entries so that each cites its page.
//! `/itemdetails` is documented for Inventory ("Bulk fetch item details",
//! `ZohoInventory.items.READ`) but not for Books, so `/books/v3/itemdetails`
//! stays unknown.
//!
//! Zoho Invoice (`/invoice/v3`), Billing (`/billing/v1`) and Expense
//! (`/expense/v1`) are deliberately absent: their per-entity scope names
//! could not be confirmed from Zoho's docs, so they fall through to `None`
//! (denied as SCOPE_UNKNOWN) rather than being guessed.

use super::{Entry, CRUD, GET_ONLY};
use crate::dc::Upstream::Api;

const BOOKS_DOC: &str = "https://www.zoho.com/books/api/v3/oauth/";
const INVENTORY_DOC: &str = "https://www.zoho.com/inventory/api/v1/oauth/";

/// Books path entity → scope entity (the fifteen scopes Books documents:
/// contacts, settings, estimates, invoices, customerpayments, creditnotes,
/// projects, expenses, salesorders, purchaseorders, bills, debitnotes,
/// vendorpayments, banking, accountants).
pub(super) const BOOKS: &[(&str, &str)] = &[
    ("organizations", "settings"),
    ("settings", "settings"),
    ("users", "settings"),
    ("items", "settings"),
    ("contacts", "contacts"),
    ("estimates", "estimates"),
    ("salesorders", "salesorders"),
    ("invoices", "invoices"),
    ("recurringinvoices", "invoices"),
    ("creditnotes", "creditnotes"),
    ("customerpayments", "customerpayments"),
    ("expenses", "expenses"),
    ("recurringexpenses", "expenses"),
    ("purchaseorders", "purchaseorders"),
    ("bills", "bills"),
    ("recurringbills", "bills"),
    ("vendorcredits", "debitnotes"),
    ("vendorpayments", "vendorpayments"),
    ("bankaccounts", "banking"),
    ("banktransactions", "banking"),
    ("chartofaccounts", "accountants"),
    ("journals", "accountants"),
    ("projects", "projects"),
];

/// Inventory path entity → scope entity (only names seen in Zoho's
/// Inventory docs and scope lists).
pub(super) const INVENTORY: &[(&str, &str)] = &[
    ("organizations", "settings"),
    ("settings", "settings"),
    ("contacts", "contacts"),
    ("items", "items"),
    ("compositeitems", "compositeitems"),
    ("salesorders", "salesorders"),
    ("packages", "packages"),
    ("shipmentorders", "shipmentorders"),
    ("invoices", "invoices"),
    ("purchaseorders", "purchaseorders"),
];

const BOOKS_NOTE: &str =
    "every sub-resource and action of an entity (…/{id}/email, …/{id}/status/sent) \
takes the entity's scope with the method's operation, as Books documents per endpoint";

const RETAINER: &str = "https://www.zoho.com/books/api/v3/retainer-invoices/";
const SALES_RECEIPT: &str = "https://www.zoho.com/books/api/v3/sales-receipt/";
const INVOICES_NOTE: &str =
    "Zoho documents ZohoBooks.invoices.{op} for these, with the method's operation \
(a POST action such as mark as sent or email is CREATE)";

#[rustfmt::skip]
pub(super) const ENTRIES: &[Entry] = &[
    Entry::new(Api, "/books/v3/retainerinvoices", CRUD, "ZohoBooks.invoices.{op}", "books.entity", RETAINER)
        .note(INVOICES_NOTE),
    Entry::new(Api, "/books/v3/retainerinvoices/{**}", CRUD, "ZohoBooks.invoices.{op}", "books.entity", RETAINER)
        .note(INVOICES_NOTE),
    Entry::new(Api, "/books/v3/salesreceipts", CRUD, "ZohoBooks.invoices.{op}", "books.entity", SALES_RECEIPT)
        .note(INVOICES_NOTE),
    Entry::new(Api, "/books/v3/salesreceipts/{**}", CRUD, "ZohoBooks.invoices.{op}", "books.entity", SALES_RECEIPT)
        .note(INVOICES_NOTE),
    Entry::new(Api, "/books/v3/{books}", CRUD, "ZohoBooks.{entity}.{op}", "books.entity", BOOKS_DOC),
    Entry::new(Api, "/books/v3/{books}/{**}", CRUD, "ZohoBooks.{entity}.{op}", "books.entity", BOOKS_DOC)
        .note(BOOKS_NOTE),
    Entry::new(Api, "/inventory/v1/itemdetails", GET_ONLY, "ZohoInventory.items.READ", "inventory.entity",
        "https://www.zoho.com/inventory/api/v1/items/")
        .note("\"Bulk fetch item details\" (item_ids in the query): Zoho documents ZohoInventory.items.READ"),
    Entry::new(Api, "/inventory/v1/{inventory}", CRUD, "ZohoInventory.{entity}.{op}", "inventory.entity", INVENTORY_DOC),
    Entry::new(Api, "/inventory/v1/{inventory}/{**}", CRUD, "ZohoInventory.{entity}.{op}", "inventory.entity", INVENTORY_DOC),
];
