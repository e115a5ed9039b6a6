//! The endpoints of the family and the one table that describes them.

use std::fmt;

use hongbao_sign::WorkwxKind;

/// One API operation of the `/mmpaymkttransfers/` family (plus the sandbox key call).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `sendredpack`: one cash red packet to one user.
    SendRedPacket,
    /// `sendgroupredpack`: a group ("fission") red packet. Offline since 2024-06-05.
    SendGroupRedPacket,
    /// `sendminiprogramhb`: a red packet opened by a mini program.
    SendMiniProgramRedPacket,
    /// `gethbinfo`: query a normal, group or mini-program red packet.
    QueryRedPacket,
    /// `sendworkwxredpack`: a WeCom enterprise red packet.
    SendWorkwxRedPacket,
    /// `queryworkwxredpack`: query a WeCom red packet.
    QueryWorkwxRedPacket,
    /// `promotion/paywwsptrans2pocket`: WeCom pay to employee.
    PayEmployee,
    /// `promotion/querywwsptrans2pocket`: query a WeCom payment to an employee.
    QueryPayEmployee,
    /// `promotion/transfers`: transfer to a user's WeChat change.
    Transfer,
    /// `gettransferinfo`: query a transfer.
    QueryTransfer,
    /// `sandboxnew/pay/getsignkey`: obtain the sandbox signing key.
    GetSignKey,
}

/// The product line an endpoint belongs to (shares error tables and rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Cash red packets: normal, group, mini-program, and their query.
    RedPacket,
    /// WeCom red packets and their query.
    WorkwxRedPacket,
    /// WeCom pay to employee and its query.
    PayEmployee,
    /// Transfers to change and their query.
    Transfer,
    /// The sandbox signing-key call.
    SignKey,
}

/// Whether the product can still be used, as published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductState {
    /// Open.
    Active,
    /// Existing merchants keep using it; new merchants cannot apply.
    ClosedToNewMerchants,
    /// Taken offline on the given date (`yyyy-mm-dd`); kept for reference.
    Offline {
        /// The date it went offline.
        since: &'static str,
    },
}

impl ProductState {
    /// A warning to show users, if the product is not simply active.
    pub fn warning(self) -> Option<String> {
        match self {
            ProductState::Active => None,
            ProductState::ClosedToNewMerchants => Some(
                "this product is closed to new merchants; only merchants that already have it can use it"
                    .into(),
            ),
            ProductState::Offline { since } => Some(format!(
                "this product was taken offline on {since}; requests are expected to fail"
            )),
        }
    }
}

/// Everything the code needs to know about one endpoint. See [`Endpoint::spec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointSpec {
    /// The endpoint described.
    pub endpoint: Endpoint,
    /// Short name (last path segment): `sendredpack`, `paywwsptrans2pocket`, ...
    pub name: &'static str,
    /// Path appended to the base URL.
    pub path: &'static str,
    /// Whether the merchant API certificate (mutual TLS) is required.
    pub needs_client_cert: bool,
    /// The bill-number field: `mch_billno` or `partner_trade_no` (none for the sandbox key).
    pub bill_field: Option<&'static str>,
    /// Whether replies carry a `sign` that must verify (sendworkwxredpack and
    /// queryworkwxredpack only).
    pub reply_signed: bool,
    /// Which fields enter `workwx_sign`, if the endpoint needs one.
    pub workwx: Option<WorkwxKind>,
    /// The app-id field: `wxappid`, `appid` or `mch_appid` (none for the sandbox key).
    pub appid_field: Option<&'static str>,
    /// The merchant-id field: `mch_id` or `mchid`.
    pub mch_id_field: &'static str,
    /// The amount field of the request, if any: `total_amount` or `amount`.
    pub amount_field: Option<&'static str>,
    /// The payee field of the request, if any: `re_openid` or `openid`.
    pub openid_field: Option<&'static str>,
    /// The product line.
    pub family: Family,
    /// Whether a successful call moves money.
    pub moves_money: bool,
    /// For a send: the endpoint that queries it.
    pub query: Option<Endpoint>,
    /// Whether the product can still be used.
    pub product_state: ProductState,
}

const CLOSED: ProductState = ProductState::ClosedToNewMerchants;

/// `sendredpack`; the other two cash red packet sends differ from it only
/// in name, path and product state.
const SEND_RED_PACKET: EndpointSpec = EndpointSpec {
    endpoint: Endpoint::SendRedPacket,
    name: "sendredpack",
    path: "/mmpaymkttransfers/sendredpack",
    needs_client_cert: true,
    bill_field: Some("mch_billno"),
    reply_signed: false,
    workwx: None,
    appid_field: Some("wxappid"),
    mch_id_field: "mch_id",
    amount_field: Some("total_amount"),
    openid_field: Some("re_openid"),
    family: Family::RedPacket,
    moves_money: true,
    query: Some(Endpoint::QueryRedPacket),
    product_state: CLOSED,
};

static SPECS: [EndpointSpec; 11] = [
    SEND_RED_PACKET,
    EndpointSpec {
        endpoint: Endpoint::SendGroupRedPacket,
        name: "sendgroupredpack",
        path: "/mmpaymkttransfers/sendgroupredpack",
        product_state: ProductState::Offline {
            since: "2024-06-05",
        },
        ..SEND_RED_PACKET
    },
    EndpointSpec {
        endpoint: Endpoint::SendMiniProgramRedPacket,
        name: "sendminiprogramhb",
        path: "/mmpaymkttransfers/sendminiprogramhb",
        ..SEND_RED_PACKET
    },
    EndpointSpec {
        endpoint: Endpoint::QueryRedPacket,
        name: "gethbinfo",
        path: "/mmpaymkttransfers/gethbinfo",
        needs_client_cert: true,
        bill_field: Some("mch_billno"),
        reply_signed: false,
        workwx: None,
        appid_field: Some("appid"),
        mch_id_field: "mch_id",
        amount_field: None,
        openid_field: None,
        family: Family::RedPacket,
        moves_money: false,
        query: None,
        product_state: CLOSED,
    },
    EndpointSpec {
        endpoint: Endpoint::SendWorkwxRedPacket,
        name: "sendworkwxredpack",
        path: "/mmpaymkttransfers/sendworkwxredpack",
        needs_client_cert: true,
        bill_field: Some("mch_billno"),
        reply_signed: true,
        workwx: Some(WorkwxKind::RedPacket),
        appid_field: Some("wxappid"),
        mch_id_field: "mch_id",
        amount_field: Some("total_amount"),
        openid_field: Some("re_openid"),
        family: Family::WorkwxRedPacket,
        moves_money: true,
        query: Some(Endpoint::QueryWorkwxRedPacket),
        product_state: ProductState::Active,
    },
    EndpointSpec {
        endpoint: Endpoint::QueryWorkwxRedPacket,
        name: "queryworkwxredpack",
        path: "/mmpaymkttransfers/queryworkwxredpack",
        needs_client_cert: true,
        bill_field: Some("mch_billno"),
        reply_signed: true,
        workwx: None,
        appid_field: Some("appid"),
        mch_id_field: "mch_id",
        amount_field: None,
        openid_field: None,
        family: Family::WorkwxRedPacket,
        moves_money: false,
        query: None,
        product_state: ProductState::Active,
    },
    EndpointSpec {
        endpoint: Endpoint::PayEmployee,
        name: "paywwsptrans2pocket",
        path: "/mmpaymkttransfers/promotion/paywwsptrans2pocket",
        needs_client_cert: true,
        bill_field: Some("partner_trade_no"),
        reply_signed: false,
        workwx: Some(WorkwxKind::PayEmployee),
        appid_field: Some("appid"),
        mch_id_field: "mch_id",
        amount_field: Some("amount"),
        openid_field: Some("openid"),
        family: Family::PayEmployee,
        moves_money: true,
        query: Some(Endpoint::QueryPayEmployee),
        product_state: CLOSED,
    },
    EndpointSpec {
        endpoint: Endpoint::QueryPayEmployee,
        name: "querywwsptrans2pocket",
        path: "/mmpaymkttransfers/promotion/querywwsptrans2pocket",
        needs_client_cert: true,
        bill_field: Some("partner_trade_no"),
        reply_signed: false,
        workwx: None,
        appid_field: Some("appid"),
        mch_id_field: "mch_id",
        amount_field: None,
        openid_field: None,
        family: Family::PayEmployee,
        moves_money: false,
        query: None,
        product_state: CLOSED,
    },
    EndpointSpec {
        endpoint: Endpoint::Transfer,
        name: "transfers",
        path: "/mmpaymkttransfers/promotion/transfers",
        needs_client_cert: true,
        bill_field: Some("partner_trade_no"),
        reply_signed: false,
        workwx: None,
        appid_field: Some("mch_appid"),
        mch_id_field: "mchid",
        amount_field: Some("amount"),
        openid_field: Some("openid"),
        family: Family::Transfer,
        moves_money: true,
        query: Some(Endpoint::QueryTransfer),
        product_state: CLOSED,
    },
    EndpointSpec {
        endpoint: Endpoint::QueryTransfer,
        name: "gettransferinfo",
        path: "/mmpaymkttransfers/gettransferinfo",
        needs_client_cert: true,
        bill_field: Some("partner_trade_no"),
        reply_signed: false,
        workwx: None,
        appid_field: Some("appid"),
        mch_id_field: "mch_id",
        amount_field: None,
        openid_field: None,
        family: Family::Transfer,
        moves_money: false,
        query: None,
        product_state: CLOSED,
    },
    EndpointSpec {
        endpoint: Endpoint::GetSignKey,
        name: "getsignkey",
        path: "/sandboxnew/pay/getsignkey",
        needs_client_cert: false,
        bill_field: None,
        reply_signed: false,
        workwx: None,
        appid_field: None,
        mch_id_field: "mch_id",
        amount_field: None,
        openid_field: None,
        family: Family::SignKey,
        moves_money: false,
        query: None,
        product_state: ProductState::Active,
    },
];

/// The newer documented path of the sandbox key call, also accepted by [`Endpoint::from_path`].
pub const GET_SIGN_KEY_ALT_PATH: &str = "/xdc/apiv2getsignkey/sign/getsignkey";

impl Endpoint {
    /// Every endpoint, in the order of the protocol reference.
    pub const ALL: [Endpoint; 11] = [
        Endpoint::SendRedPacket,
        Endpoint::SendGroupRedPacket,
        Endpoint::SendMiniProgramRedPacket,
        Endpoint::QueryRedPacket,
        Endpoint::SendWorkwxRedPacket,
        Endpoint::QueryWorkwxRedPacket,
        Endpoint::PayEmployee,
        Endpoint::QueryPayEmployee,
        Endpoint::Transfer,
        Endpoint::QueryTransfer,
        Endpoint::GetSignKey,
    ];

    /// The table row of this endpoint.
    pub fn spec(self) -> &'static EndpointSpec {
        let index = match self {
            Endpoint::SendRedPacket => 0,
            Endpoint::SendGroupRedPacket => 1,
            Endpoint::SendMiniProgramRedPacket => 2,
            Endpoint::QueryRedPacket => 3,
            Endpoint::SendWorkwxRedPacket => 4,
            Endpoint::QueryWorkwxRedPacket => 5,
            Endpoint::PayEmployee => 6,
            Endpoint::QueryPayEmployee => 7,
            Endpoint::Transfer => 8,
            Endpoint::QueryTransfer => 9,
            Endpoint::GetSignKey => 10,
        };
        &SPECS[index]
    }

    /// Short name: `sendredpack`, `paywwsptrans2pocket`, ...
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Path appended to the base URL: `/mmpaymkttransfers/sendredpack`, ...
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// The endpoint served at `path` (also the newer sandbox key path
    /// `/xdc/apiv2getsignkey/sign/getsignkey`).
    pub fn from_path(path: &str) -> Option<Endpoint> {
        if path == GET_SIGN_KEY_ALT_PATH {
            return Some(Endpoint::GetSignKey);
        }
        SPECS.iter().find(|s| s.path == path).map(|s| s.endpoint)
    }

    /// The endpoint with this short name (`sendredpack`, `transfers`, ...).
    pub fn from_name(name: &str) -> Option<Endpoint> {
        SPECS.iter().find(|s| s.name == name).map(|s| s.endpoint)
    }

    /// Whether this endpoint queries a payment (gethbinfo, queryworkwxredpack,
    /// querywwsptrans2pocket, gettransferinfo).
    pub fn is_query(self) -> bool {
        matches!(
            self,
            Endpoint::QueryRedPacket
                | Endpoint::QueryWorkwxRedPacket
                | Endpoint::QueryPayEmployee
                | Endpoint::QueryTransfer
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
