//! A work item: a customer the center owes a call, and who may see and
//! dial it.

use hotline_core::{AgentId, QueueId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The regulations' reply rule: 24 hours.
pub const DEFAULT_DEADLINE_MS: i64 = 24 * 3_600_000;

/// Why the center owes the customer a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// The caller waited in the queue (or the engine answered) and no agent
    /// answered: abandoned in the queue, the queue full, the call failed.
    Missed,
    /// The caller hung up while it still rang (before the engine answered).
    Abandoned,
    /// The caller left a voicemail.
    Voicemail,
    /// An agent (or the API) promised to call back ("I'll call you back").
    Promise,
    /// The caller asked for a callback (the engine's callback queue).
    Callback,
    /// A member to visit (a campaign's line).
    ReturnVisit,
}

impl ItemKind {
    /// Every kind.
    pub const ALL: [ItemKind; 6] = [
        ItemKind::Missed,
        ItemKind::Abandoned,
        ItemKind::Voicemail,
        ItemKind::Promise,
        ItemKind::Callback,
        ItemKind::ReturnVisit,
    ];

    /// The snake_case name used in the store and API.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Missed => "missed",
            ItemKind::Abandoned => "abandoned",
            ItemKind::Voicemail => "voicemail",
            ItemKind::Promise => "promise",
            ItemKind::Callback => "callback",
            ItemKind::ReturnVisit => "return_visit",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A call the customer made that was not taken (counts in 已复电话百分比).
    pub fn is_owed_reply(self) -> bool {
        !matches!(self, ItemKind::ReturnVisit)
    }
}

impl fmt::Display for ItemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an item was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemOutcome {
    /// An answered call to the customer closed it (the call was returned).
    Returned,
    /// Closed by hand: the customer was reached another way, or called again
    /// and was served.
    Resolved,
    /// Given up (wrong number, customer cannot be reached); says why.
    GivenUp,
    /// A return visit with its record: reached.
    Reached,
    /// A return visit with its record: not reached.
    NotReached,
    /// A return visit with its record: the customer refused.
    Refused,
}

impl ItemOutcome {
    /// Every outcome.
    pub const ALL: [ItemOutcome; 6] = [
        ItemOutcome::Returned,
        ItemOutcome::Resolved,
        ItemOutcome::GivenUp,
        ItemOutcome::Reached,
        ItemOutcome::NotReached,
        ItemOutcome::Refused,
    ];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemOutcome::Returned => "returned",
            ItemOutcome::Resolved => "resolved",
            ItemOutcome::GivenUp => "given_up",
            ItemOutcome::Reached => "reached",
            ItemOutcome::NotReached => "not_reached",
            ItemOutcome::Refused => "refused",
        }
    }

    /// The outcome of a stored name.
    pub fn parse(s: &str) -> Option<ItemOutcome> {
        ItemOutcome::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who owns an item: one agent (who promised, or a visit assigned to them)
/// or a queue (every member may take it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// One agent.
    Agent(AgentId),
    /// Shared by a queue's members.
    Queue(QueueId),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Agent(a) => write!(f, "agent:{a}"),
            Owner::Queue(q) => write!(f, "queue:{q}"),
        }
    }
}

/// Who is looking at the work list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// An agent, with the queues they serve.
    Agent {
        /// The agent.
        agent: AgentId,
        /// Queues they are a member of.
        queues: Vec<QueueId>,
    },
    /// A supervisor (or admin): every item.
    Supervisor,
}

impl Viewer {
    /// Whether this viewer sees (and may call) items of `owner`.
    pub fn sees(&self, owner: &Owner) -> bool {
        match (self, owner) {
            (Viewer::Supervisor, _) => true,
            (Viewer::Agent { agent, .. }, Owner::Agent(a)) => agent == a,
            (Viewer::Agent { queues, .. }, Owner::Queue(q)) => queues.contains(q),
        }
    }
}

/// What an item is made from (its id comes from the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    /// Why it is owed.
    pub kind: ItemKind,
    /// The customer's number (normalized, see [`crate::normalize_number`]).
    pub number: String,
    /// The customer's name, if known.
    pub name: String,
    /// Card or member number (return visits).
    pub card: String,
    /// Notes (what was promised, what to ask).
    pub notes: String,
    /// Owner.
    pub owner: Owner,
    /// The campaign of a return visit.
    pub campaign: Option<i64>,
    /// The call that caused it (missed call, voicemail, promise made in a call).
    pub call_id: Option<String>,
    /// When it was created, epoch ms.
    pub created_ms: i64,
    /// Due by, epoch ms.
    pub deadline_ms: i64,
    /// When the customer prefers to be called (`after 13:10`), as imported.
    pub preferred: String,
    /// Who created it (`event`, `api:<user>`, `import:<user>`).
    pub created_by: String,
}

/// An item of the work list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    /// Id (from the store).
    pub id: i64,
    /// What it was made from.
    #[serde(flatten)]
    pub new: NewItem,
    /// Calls of the customer merged into it (a customer who called three
    /// times is owed one call back).
    pub calls: u32,
    /// Calls made to the customer that did not close it.
    pub attempts: u32,
    /// The last call made to the customer (a visit's record takes its length).
    pub last_call: Option<String>,
    /// How it was closed (None: open).
    pub outcome: Option<ItemOutcome>,
    /// When it was closed, epoch ms.
    pub closed_ms: Option<i64>,
    /// Who closed it (an agent, `api:<user>`).
    pub closed_by: Option<String>,
    /// The overdue alarm was raised.
    pub alarmed: bool,
}

impl WorkItem {
    /// A fresh open item.
    pub fn open(id: i64, new: NewItem) -> Self {
        WorkItem {
            id,
            new,
            calls: 1,
            attempts: 0,
            last_call: None,
            outcome: None,
            closed_ms: None,
            closed_by: None,
            alarmed: false,
        }
    }

    /// Still owed.
    pub fn is_open(&self) -> bool {
        self.outcome.is_none()
    }

    /// Open and past its deadline at `now_ms`.
    pub fn is_overdue(&self, now_ms: i64) -> bool {
        self.is_open() && now_ms > self.new.deadline_ms
    }

    /// Closed in time (before or at its deadline).
    pub fn closed_in_time(&self) -> bool {
        self.closed_ms.is_some_and(|c| c <= self.new.deadline_ms)
    }

    /// Time from creation to closing, ms (None while open).
    pub fn time_to_close_ms(&self) -> Option<i64> {
        self.closed_ms.map(|c| (c - self.new.created_ms).max(0))
    }

    /// Whether `viewer` sees it.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        viewer.sees(&self.new.owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn new_item(kind: ItemKind, number: &str, owner: Owner, at: i64) -> NewItem {
        NewItem {
            kind,
            number: number.into(),
            name: String::new(),
            card: String::new(),
            notes: String::new(),
            owner,
            campaign: None,
            call_id: None,
            created_ms: at,
            deadline_ms: at + DEFAULT_DEADLINE_MS,
            preferred: String::new(),
            created_by: "event".into(),
        }
    }

    #[test]
    fn names_round_trip() {
        for k in ItemKind::ALL {
            assert_eq!(ItemKind::parse(k.as_str()), Some(k));
        }
        for o in ItemOutcome::ALL {
            assert_eq!(ItemOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(ItemKind::parse("x"), None);
        assert_eq!(ItemOutcome::parse(""), None);
    }

    #[test]
    fn overdue_is_strictly_after_the_deadline_and_only_while_open() {
        let mut i = WorkItem::open(
            1,
            new_item(
                ItemKind::Missed,
                "0612",
                Owner::Queue(QueueId::new("q")),
                1000,
            ),
        );
        let deadline = 1000 + DEFAULT_DEADLINE_MS;
        assert!(!i.is_overdue(deadline));
        assert!(i.is_overdue(deadline + 1));
        i.outcome = Some(ItemOutcome::Returned);
        i.closed_ms = Some(deadline + 5);
        assert!(!i.is_overdue(deadline + 10));
        assert!(!i.closed_in_time());
        assert_eq!(i.time_to_close_ms(), Some(DEFAULT_DEADLINE_MS + 5));
    }

    #[test]
    fn agents_see_their_own_and_their_queues_supervisors_all() {
        let a = Viewer::Agent {
            agent: AgentId::new("1001"),
            queues: vec![QueueId::new("general")],
        };
        assert!(a.sees(&Owner::Agent(AgentId::new("1001"))));
        assert!(!a.sees(&Owner::Agent(AgentId::new("1002"))));
        assert!(a.sees(&Owner::Queue(QueueId::new("general"))));
        assert!(!a.sees(&Owner::Queue(QueueId::new("vip"))));
        assert!(Viewer::Supervisor.sees(&Owner::Agent(AgentId::new("1002"))));
    }
}
