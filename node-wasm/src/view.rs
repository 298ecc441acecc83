//! What a node shows its UI: plain data, no browser types, so the UI's
//! reducer that consumes it is testable natively.

use std::rc::Rc;

use crate::calendar::{Command, Store};
use crate::raft::Status;

/// Everything the UI shows about its node, rebuilt after each change.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub room: String,
    pub slot: u16,
    pub status: Status,
    /// The applied (committed) calendar state; the UI queries it for the
    /// range and zone it shows. Shared, not copied, between renders.
    pub store: Rc<Store>,
    pub connected: bool,
    /// Node slots the relay says are connected, this one included.
    pub online: Vec<u16>,
    /// Set when the node had to stop (storage failure): nothing further is
    /// acknowledged, and the UI must say so.
    pub fault: Option<String>,
    /// This tab's edits waiting for the cluster (saved in IndexedDB, not yet
    /// applied), oldest first.
    pub pending: Vec<Command>,
    /// Something the user should know that no form is waiting for: an edit
    /// saved while offline that the cluster refused when it came back.
    pub notice: Option<String>,
    /// Every node slot is taken by other tabs: this tab only follows what
    /// they committed and cannot edit.
    pub observer: bool,
}
