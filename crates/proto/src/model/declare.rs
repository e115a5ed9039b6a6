//! Each request type is declared **once**, with [`request!`]: for every
//! field its wire name (the field's name), its Rust type, its rule and
//! whether it enters `workwx_sign`, in wire order, with the constant fields
//! (`total_num=1`, `bill_type=MCHT`, ...) where they go. From that one
//! declaration come the struct, `fields()`, `from_wire`, the field rules of
//! `validate` (cross-field rules stay hand-written hooks called after them),
//! the field table ([`FieldSpec`]) and a builder that reports every
//! violation at once.
//!
//! The style follows rustls' `enum_builder!`: one macro invocation per wire
//! type; adding a field is one line in the invocation.

use std::borrow::Cow;

use super::red_packet::scene;
use super::{WireReader, num};
use crate::validate::{ALNUM, Checker, Rule, Violation, alnum};
use crate::values::{Amount, AmtType, BillNo, CheckName, MsgType, OpenId, SceneId, TradeNo};

/// One field of a request as declared: its wire name, whether it must be
/// present, whether it enters `workwx_sign`, and the constant value of the
/// fields the model adds by itself (`total_num=1`, `bill_type=MCHT`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldSpec {
    /// The element name on the wire.
    pub name: &'static str,
    /// Whether the field is always sent (conditional fields are optional here).
    pub required: bool,
    /// Whether the field enters `workwx_sign` (WeCom send endpoints).
    pub workwx: bool,
    /// The constant value of a field the model adds, `None` for a field of the struct.
    pub fixed: Option<&'static str>,
}

impl FieldSpec {
    /// A field of the struct.
    pub(crate) const fn field(name: &'static str, required: bool, workwx: bool) -> Self {
        FieldSpec {
            name,
            required,
            workwx,
            fixed: None,
        }
    }

    /// A constant field added by the model.
    pub(crate) const fn fixed(name: &'static str, value: &'static str) -> Self {
        FieldSpec {
            name,
            required: true,
            workwx: false,
            fixed: Some(value),
        }
    }
}

/// What a builder setter of a request field takes: the value itself, or
/// for an optional field a value or an `Option` of it.
pub trait BuilderField {
    /// The setter's argument type.
    type Input;
    /// The field value for a setter argument.
    fn from_input(input: Self::Input) -> Self;
}

/// How a field type travels on the wire and starts in a builder.
pub(crate) trait WireField: Sized {
    /// Whether the field is always sent.
    const REQUIRED: bool;
    /// The wire text; `None` (or empty) is not sent.
    fn wire(&self) -> Option<Cow<'_, str>>;
    /// Reads the field back; `None` when a typed value is missing or invalid
    /// (the reader holds the violation).
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self>;
    /// The value a builder starts with when the field is not a constructor
    /// argument; `None` when there is no sensible one (then the field must
    /// be a constructor argument).
    fn unset() -> Option<Self>;
}

macro_rules! same_input {
    ($($ty:ty),+) => {$(
        impl BuilderField for $ty {
            type Input = $ty;
            fn from_input(input: $ty) -> $ty {
                input
            }
        }
    )+};
}
same_input!(
    String, BillNo, TradeNo, OpenId, CheckName, MsgType, AmtType, Amount, u32
);

/// Optional typed fields take the value or an `Option` of it (`None` clears).
macro_rules! optional_input {
    ($($ty:ty),+) => {$(
        impl BuilderField for Option<$ty> {
            type Input = Option<$ty>;
            fn from_input(input: Option<$ty>) -> Option<$ty> {
                input
            }
        }
    )+};
}
optional_input!(SceneId, u32, u64);

impl BuilderField for Option<String> {
    type Input = OptionalText;
    fn from_input(input: OptionalText) -> Option<String> {
        input.0
    }
}

/// The argument of an optional text field's setter: a text (`&str`,
/// `String`) or an `Option` of one (`None` clears the field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OptionalText(pub Option<String>);

impl From<&str> for OptionalText {
    fn from(value: &str) -> Self {
        OptionalText(Some(value.to_owned()))
    }
}

impl From<String> for OptionalText {
    fn from(value: String) -> Self {
        OptionalText(Some(value))
    }
}

impl From<Option<String>> for OptionalText {
    fn from(value: Option<String>) -> Self {
        OptionalText(value)
    }
}

impl From<Option<&str>> for OptionalText {
    fn from(value: Option<&str>) -> Self {
        OptionalText(value.map(str::to_owned))
    }
}

impl WireField for String {
    const REQUIRED: bool = true;
    fn wire(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self))
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(r.req(field))
    }
    fn unset() -> Option<Self> {
        // Empty: `validate` reports the field as required.
        Some(String::new())
    }
}

impl WireField for Option<String> {
    const REQUIRED: bool = false;
    fn wire(&self) -> Option<Cow<'_, str>> {
        self.as_deref().filter(|v| !v.is_empty()).map(Cow::Borrowed)
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(r.opt(field))
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
}

/// Typed values written with `as_str` and read with `FromStr`; `$unset` is
/// the builder's starting value.
macro_rules! typed_wire_field {
    ($($ty:ty => $unset:expr),+ $(,)?) => {$(
        impl WireField for $ty {
            const REQUIRED: bool = true;
            fn wire(&self) -> Option<Cow<'_, str>> {
                Some(Cow::Borrowed(self.as_str()))
            }
            fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
                r.parsed(field, str::parse::<$ty>)
            }
            fn unset() -> Option<Self> {
                $unset
            }
        }
    )+};
}
typed_wire_field!(
    BillNo => None,
    TradeNo => None,
    OpenId => None,
    CheckName => Some(CheckName::NoCheck),
    MsgType => Some(MsgType::NormalMsg),
    AmtType => Some(AmtType::AllRand),
);

impl WireField for Amount {
    const REQUIRED: bool = true;
    fn wire(&self) -> Option<Cow<'_, str>> {
        Some(num(self.fen()))
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(r.amount(field))
    }
    fn unset() -> Option<Self> {
        None
    }
}

impl WireField for u32 {
    const REQUIRED: bool = true;
    fn wire(&self) -> Option<Cow<'_, str>> {
        Some(num(u64::from(*self)))
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        r.uint(field).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    }
    fn unset() -> Option<Self> {
        None
    }
}

impl WireField for Option<u32> {
    const REQUIRED: bool = false;
    fn wire(&self) -> Option<Cow<'_, str>> {
        self.map(|n| num(u64::from(n)))
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(
            r.opt_uint(field)
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        )
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
}

impl WireField for Option<u64> {
    const REQUIRED: bool = false;
    fn wire(&self) -> Option<Cow<'_, str>> {
        self.map(num)
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(r.opt_uint(field))
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
}

impl WireField for Option<SceneId> {
    const REQUIRED: bool = false;
    fn wire(&self) -> Option<Cow<'_, str>> {
        self.as_ref().map(|s| Cow::Borrowed(s.as_str()))
    }
    fn read(r: &mut WireReader<'_>, field: &'static str) -> Option<Self> {
        Some(r.opt_parsed(field, scene))
    }
    fn unset() -> Option<Self> {
        Some(None)
    }
}

/// A field rule: checks one value, pushing violations named `field`.
pub(crate) trait Check<T> {
    fn check(&self, c: &mut Checker, field: &'static str, value: &T);
}

/// The field rules a declaration can name.
pub(crate) mod rules {
    use super::*;

    /// Nothing beyond the type (bill numbers, enums: valid by construction).
    pub(crate) struct Typed;
    impl<T> Check<T> for Typed {
        fn check(&self, _: &mut Checker, _: &'static str, _: &T) {}
    }

    /// Text of at most this many characters, XML-safe, no outer whitespace
    /// (required for `String`, optional for `Option<String>`).
    pub(crate) struct Text(pub(crate) usize);
    impl Check<String> for Text {
        fn check(&self, c: &mut Checker, field: &'static str, value: &String) {
            c.text(field, value, self.0);
        }
    }
    impl Check<Option<String>> for Text {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Option<String>) {
            c.opt_text(field, value.as_deref(), self.0);
        }
    }

    /// An IPv4 address in dotted-quad form (required).
    pub(crate) struct Ipv4;
    impl Check<String> for Ipv4 {
        fn check(&self, c: &mut Checker, field: &'static str, value: &String) {
            c.ipv4(field, value);
        }
    }

    /// An IPv4 or IPv6 address of at most this many characters (required).
    pub(crate) struct Ip(pub(crate) usize);
    impl Check<String> for Ip {
        fn check(&self, c: &mut Checker, field: &'static str, value: &String) {
            c.ip_address(field, value, self.0);
        }
    }

    /// Optional text with no length limit of its own (XML-safe, no outer
    /// whitespace).
    pub(crate) struct FreeText;
    impl Check<Option<String>> for FreeText {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Option<String>) {
            c.opt_unbounded_text(field, value.as_deref());
        }
    }

    /// An optional id of at most 32 ASCII letters and digits.
    pub(crate) struct Id;
    impl Check<Option<String>> for Id {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Option<String>) {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                c.ascii(field, v, 32, alnum, ALNUM);
            }
        }
    }

    /// An optional unsigned integer of at most this many digits, as text.
    pub(crate) struct Digits(pub(crate) usize);
    impl Check<Option<String>> for Digits {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Option<String>) {
            c.opt_digits(field, value.as_deref(), self.0);
        }
    }

    /// An openid of at most this many characters (the type allows 64).
    pub(crate) struct MaxLen(pub(crate) usize);
    impl Check<OpenId> for MaxLen {
        fn check(&self, c: &mut Checker, field: &'static str, value: &OpenId) {
            if value.as_str().len() > self.0 {
                c.push(field, Rule::MaxChars(self.0), Some(value.as_str()));
            }
        }
    }

    /// An amount within `min..=max` fen.
    pub(crate) struct Fen(pub(crate) u64, pub(crate) u64);
    impl Check<Amount> for Fen {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Amount) {
            c.amount(field, *value, self.0, self.1);
        }
    }

    /// An amount of at least this many fen.
    pub(crate) struct FenAtLeast(pub(crate) u64);
    impl Check<Amount> for FenAtLeast {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Amount) {
            if value.fen() < self.0 {
                c.violations.push(Violation::new(
                    field,
                    Rule::AmountAtLeast(Amount::from_fen(self.0)),
                    Some(value.to_string()),
                ));
            }
        }
    }

    /// An integer within `min..=max`.
    pub(crate) struct Range(pub(crate) u64, pub(crate) u64);
    impl Check<u32> for Range {
        fn check(&self, c: &mut Checker, field: &'static str, value: &u32) {
            if !(self.0..=self.1).contains(&u64::from(*value)) {
                c.push(
                    field,
                    Rule::Range {
                        min: self.0,
                        max: self.1,
                    },
                    Some(&value.to_string()),
                );
            }
        }
    }

    /// A documented scene (`PRODUCT_1`..`PRODUCT_8`), when given.
    pub(crate) struct Scene;
    impl Check<Option<SceneId>> for Scene {
        fn check(&self, c: &mut Checker, field: &'static str, value: &Option<SceneId>) {
            if let Some(SceneId::Unknown(s)) = value {
                c.push(field, Rule::OneOf(SceneId::WIRE), Some(s));
            }
        }
    }
}

/// `true` when a field is marked `(workwx)`.
macro_rules! workwx_flag {
    () => {
        false
    };
    (workwx) => {
        true
    };
}
pub(crate) use workwx_flag;

/// Declares one request type. See the module documentation; the
/// invocations in `red_packet.rs`, `workwx.rs`, `pay_employee.rs` and
/// `transfer.rs` are the reference for every field of every endpoint.
///
/// ```text
/// request! {
///     /// docs
///     pub struct Name / NameBuilder {
///         endpoint: Endpoint::X, reply: XReply, bill: field,
///         builder(arg: Type, ...),          // the constructor arguments
///         $(check: hook,)?                  // fn(&Name, &mut Checker): cross-field rules
///         $(agentid: field,)?               // which field names the WeCom app
///     }
///     fields {
///         /// docs
///         $((workwx))? field: Type => Rule $(, then "fixed" = "value")*;
///     }
/// }
/// ```
macro_rules! request {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident / $builder:ident {
            endpoint: $endpoint:expr,
            reply: $reply:ty,
            bill: $bill:ident,
            builder($($arg:ident: $arg_ty:ty),* $(,)?),
            $(check: $hook:path,)?
            $(agentid: $agentid:ident,)?
        }
        fields {
            $(
                $(#[doc = $fdoc:literal])*
                $(#[serde($($serde:tt)*)])*
                $(($ws:ident))? $field:ident: $ty:ty => $rule:expr
                $(, then $fixed:literal = $value:literal)*;
            )+
        }
    ) => {
        $(#[doc = $doc])*
        ///
        /// Build one with the builder (every violation at once), or read one
        /// off the wire with `from_wire`.
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[non_exhaustive]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                $(#[serde($($serde)*)])*
                pub $field: $ty,
            )+
        }

        #[doc = concat!("Builds a [`", stringify!($name), "`]; see [`", stringify!($name), "::builder`].")]
        #[derive(Clone, Debug)]
        #[must_use]
        pub struct $builder {
            $($field: Option<$ty>,)+
        }

        impl $name {
            /// The declared fields in wire order (constant fields included;
            /// `mch_id`, the app id, `nonce_str`, `sign` and `workwx_sign` are
            /// added by [`build`](crate::build())).
            pub const FIELDS: &'static [$crate::model::FieldSpec] = &[
                $(
                    $crate::model::FieldSpec::field(
                        stringify!($field),
                        <$ty as $crate::model::declare::WireField>::REQUIRED,
                        $crate::model::declare::workwx_flag!($($ws)?),
                    ),
                    $($crate::model::FieldSpec::fixed($fixed, $value),)*
                )+
            ];

            #[doc = concat!("Starts a builder with the fields that have no default; set the others, then [`", stringify!($builder), "::build`] checks every rule at once. Text fields that are not set are reported as missing.")]
            pub fn builder($($arg: $arg_ty),*) -> $builder {
                let mut builder = $builder { $($field: None,)+ };
                $(builder.$arg = Some($arg);)*
                builder
            }

            /// Reads a request body back (emulators, sign debugger): every
            /// violation at once, including fields this endpoint does not have.
            pub fn from_wire(
                raw: &$crate::xml::RawXml,
            ) -> Result<(Self, $crate::model::Merchant), $crate::validate::Violations> {
                Self::read_wire(raw).into_result()
            }

            /// Reads a request body back without refusing it as a whole:
            /// the typed request whenever every field has a typed value,
            /// with every violation (see [`WireRead`](crate::model::WireRead)).
            pub fn read_wire(raw: &$crate::xml::RawXml) -> $crate::model::WireRead<Self> {
                let mut r = $crate::model::WireReader::new(
                    raw,
                    <Self as $crate::model::Request>::ENDPOINT,
                );
                $(
                    let $field =
                        <$ty as $crate::model::declare::WireField>::read(&mut r, stringify!($field));
                    $(r.fixed($fixed, $value);)*
                )+
                let request = match ($($field,)+) {
                    ($(Some($field),)+) => Some($name { $($field,)+ }),
                    _ => None,
                };
                $crate::model::read_wire(r, request)
            }
        }

        impl $builder {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                $(#[doc = $fdoc])*
                pub fn $field(
                    mut self,
                    value: impl Into<<$ty as $crate::model::BuilderField>::Input>,
                ) -> Self {
                    self.$field = Some(<$ty as $crate::model::BuilderField>::from_input(value.into()));
                    self
                }
            )+

            #[doc = concat!("The [`", stringify!($name), "`], or **every** rule it breaks.")]
            pub fn build(self) -> Result<$name, $crate::validate::Violations> {
                let mut missing = $crate::validate::Violations::new();
                $(
                    let $field = self
                        .$field
                        .or_else(<$ty as $crate::model::declare::WireField>::unset);
                    if $field.is_none() {
                        missing.push($crate::validate::Violation::new(
                            stringify!($field),
                            $crate::validate::Rule::Required,
                            None,
                        ));
                    }
                )+
                match ($($field,)+) {
                    ($(Some($field),)+) => {
                        let request = $name { $($field,)+ };
                        $crate::model::Request::validate(&request)?;
                        Ok(request)
                    }
                    _ => Err(missing),
                }
            }
        }

        impl $crate::model::Request for $name {
            const ENDPOINT: $crate::endpoint::Endpoint = $endpoint;
            type Reply = $reply;

            fn from_wire(
                raw: &$crate::xml::RawXml,
            ) -> Result<(Self, $crate::model::Merchant), $crate::validate::Violations> {
                Self::from_wire(raw)
            }

            fn validate(&self) -> Result<(), $crate::validate::Violations> {
                #[allow(unused_imports)]
                use $crate::model::declare::rules::*;
                let mut c = $crate::validate::Checker::new();
                $(
                    $crate::model::declare::Check::<$ty>::check(
                        &$rule,
                        &mut c,
                        stringify!($field),
                        &self.$field,
                    );
                )+
                $($hook(self, &mut c);)?
                c.finish()
            }

            fn bill(&self) -> Option<&str> {
                Some(self.$bill.as_str())
            }

            fn fields(&self) -> Vec<(&'static str, std::borrow::Cow<'_, str>)> {
                let mut f = Vec::with_capacity(Self::FIELDS.len());
                $(
                    if let Some(v) = $crate::model::declare::WireField::wire(&self.$field) {
                        f.push((stringify!($field), v));
                    }
                    $(f.push(($fixed, std::borrow::Cow::Borrowed($value)));)*
                )+
                f
            }

            $(
                fn agentid(&self) -> Option<&str> {
                    self.$agentid.as_deref().filter(|a| !a.is_empty())
                }
            )?
        }
    };
}
pub(crate) use request;

#[cfg(test)]
mod tests {
    use hongbao_sign::WorkwxKind;

    use crate::model::{PayEmployee, RedPacket, Request, WorkwxRedPacket};
    use crate::validate::Rule;
    use crate::values::{Amount, BillNo, OpenId, SceneId, TradeNo};

    fn bill() -> BillNo {
        BillNo::new("10000098201411111234567890").expect("bill")
    }

    fn openid() -> OpenId {
        OpenId::new("oxTWIuGaIt6gTKsQRLau2M0yL16E").expect("openid")
    }

    #[test]
    fn builder_reports_every_violation_at_once() {
        let err = RedPacket::builder(bill(), openid(), Amount::from_fen(30_000))
            .wishing("w".repeat(129))
            .client_ip("::1")
            .build()
            .expect_err("invalid");
        let found: Vec<(&str, &Rule)> = err.iter().map(|v| (&*v.field, &v.rule)).collect();
        assert_eq!(
            found,
            vec![
                ("send_name", &Rule::Required),
                ("wishing", &Rule::MaxChars(128)),
                ("client_ip", &Rule::Ipv4),
                ("act_name", &Rule::Required),
                ("remark", &Rule::Required),
                (
                    "scene_id",
                    &Rule::RequiredWhen("total_amount is outside 1.00–200.00 yuan")
                ),
            ]
        );
    }

    #[test]
    fn built_fields_follow_the_declared_order() {
        let packet = RedPacket::builder(bill(), openid(), Amount::from_fen(1000))
            .send_name("s")
            .wishing("w")
            .client_ip("192.168.0.1")
            .act_name("a")
            .remark("r")
            .scene_id(SceneId::Product1)
            .risk_info("i")
            .sub_mch_id("1")
            .msgappid("m")
            .consume_mch_id("2")
            .build()
            .expect("valid");
        let sent: Vec<&str> = packet.fields().iter().map(|(n, _)| *n).collect();
        let declared: Vec<&str> = RedPacket::FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(sent, declared);
        assert_eq!(RedPacket::FIELDS[4].fixed, Some("1"));
    }

    /// The `(workwx)` marks agree with the signing crate's lists (which also
    /// hold the merchant fields and the nonce, added by `build`).
    #[test]
    fn workwx_marks_match_the_signing_lists() {
        let merchant = ["mch_id", "wxappid", "appid", "nonce_str"];
        for (fields, kind) in [
            (WorkwxRedPacket::FIELDS, WorkwxKind::RedPacket),
            (PayEmployee::FIELDS, WorkwxKind::PayEmployee),
        ] {
            let mut marked: Vec<&str> =
                fields.iter().filter(|f| f.workwx).map(|f| f.name).collect();
            marked.sort_unstable();
            let expected: Vec<&str> = kind
                .fields()
                .iter()
                .copied()
                .filter(|f| !merchant.contains(f))
                .collect();
            assert_eq!(marked, expected, "{kind:?}");
        }
    }

    #[test]
    fn builder_defaults_are_the_plain_values() {
        let pay = PayEmployee::builder(
            TradeNo::new("10000098201411111234567890").expect("no"),
            openid(),
            Amount::from_fen(100),
        )
        .desc("d")
        .spbill_create_ip("192.168.0.1")
        .act_name("a")
        .build()
        .expect("valid");
        let fields = pay.fields();
        let get = |n: &str| {
            fields
                .iter()
                .find(|(f, _)| *f == n)
                .map(|(_, v)| v.as_ref())
        };
        assert_eq!(get("check_name"), Some("NO_CHECK"));
        assert_eq!(get("ww_msg_type"), Some("NORMAL_MSG"));
    }
}
