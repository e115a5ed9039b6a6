//! The typed per-endpoint calls.

use hongbao_proto::{
    GroupRedPacket, MiniProgramRedPacket, Outcome, PayEmployee, PayEmployeeQuery,
    PayEmployeeQueryReply, RawXml, RedPacket, RedPacketQuery, RedPacketQueryReply, Reply, Request,
    ResultCode, SignKeyRequest, Transfer, TransferQuery, TransferQueryReply, WorkwxRedPacket,
    WorkwxRedPacketQuery, WorkwxRedPacketQueryReply,
};
use hongbao_sign::ApiKey;
use tracing::Instrument;

use super::{Client, QueryReply};
use crate::error::ClientError;

impl Client {
    /// Sends a normal cash red packet (`sendredpack`).
    pub async fn send_red_packet(&self, req: &RedPacket) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Sends a group ("fission") red packet (`sendgroupredpack`).
    ///
    /// The product was taken offline on 2024-06-05: a warning is logged and
    /// the request is expected to fail; kept for merchants with a special
    /// arrangement and for the sandbox.
    pub async fn send_group_red_packet(
        &self,
        req: &GroupRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Sends a mini-program red packet (`sendminiprogramhb`); on success the
    /// receipt's `package` is what the mini program passes to `wx.sendBizRedPacket`.
    pub async fn send_mini_program_red_packet(
        &self,
        req: &MiniProgramRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a normal, group or mini-program red packet (`gethbinfo`).
    pub async fn query_red_packet(
        &self,
        req: &RedPacketQuery,
    ) -> Result<QueryReply<RedPacketQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Sends a WeCom red packet (`sendworkwxredpack`): `workwx_sign` is made
    /// with the secret of the request's `agentid` (or the default WeCom
    /// secret), and the reply's `sign` must verify.
    pub async fn send_workwx_red_packet(
        &self,
        req: &WorkwxRedPacket,
    ) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a WeCom red packet (`queryworkwxredpack`; the reply's `sign` must verify).
    pub async fn query_workwx_red_packet(
        &self,
        req: &WorkwxRedPacketQuery,
    ) -> Result<QueryReply<WorkwxRedPacketQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Pays an employee from WeCom (`paywwsptrans2pocket`). Every `FAIL`
    /// reply is an unknown outcome until a query confirms it; payments to
    /// one openid are spaced by the rate limiter (15 s by default).
    pub async fn pay_employee(&self, req: &PayEmployee) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a payment to an employee (`querywwsptrans2pocket`).
    pub async fn query_pay_employee(
        &self,
        req: &PayEmployeeQuery,
    ) -> Result<QueryReply<PayEmployeeQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Transfers to a user's WeChat change (`promotion/transfers`).
    pub async fn transfer(&self, req: &Transfer) -> Result<Outcome, ClientError> {
        self.send(req).await
    }

    /// Queries a transfer (`gettransferinfo`).
    pub async fn query_transfer(
        &self,
        req: &TransferQuery,
    ) -> Result<QueryReply<TransferQueryReply>, ClientError> {
        self.query(req).await
    }

    /// Asks for the sandbox signing key (`sandboxnew/pay/getsignkey`, signed
    /// with this client's API key; no client certificate needed). Build a
    /// second client with the returned key (and the sandbox base URL) to
    /// talk to the sandbox.
    ///
    /// This call moves no money, so every failure is an `Err`
    /// ([`ClientError::Failed`] when a reply was missing or unusable).
    pub async fn get_sign_key(&self, req: &SignKeyRequest) -> Result<ApiKey, ClientError> {
        let endpoint = SignKeyRequest::ENDPOINT;
        let body = self.build_signed(req)?.body_bytes();
        let span = tracing::info_span!("hongbao.get_sign_key", endpoint = endpoint.name());
        let call = async move {
            let failed = |reason: String| ClientError::Failed {
                endpoint: endpoint.name(),
                reason,
            };
            let response = self.exchange(endpoint, body).await.map_err(|e| {
                if e.may_have_been_sent() {
                    failed(e.report())
                } else {
                    ClientError::NotSent {
                        endpoint: endpoint.name(),
                        source: e,
                    }
                }
            })?;
            if response.status != 200 {
                return Err(failed(format!("HTTP status {}", response.status)));
            }
            let raw = RawXml::parse(&response.body).map_err(|e| failed(e.to_string()))?;
            let reply =
                hongbao_proto::SignKeyReply::from_raw(&raw).map_err(|e| failed(e.to_string()))?;
            if reply.return_code != ResultCode::Success {
                return Err(failed(format!(
                    "return_code is not SUCCESS: {}",
                    reply.return_msg.as_deref().unwrap_or("(no return_msg)")
                )));
            }
            let key = reply
                .sandbox_signkey
                .ok_or_else(|| failed("the reply has no usable sandbox_signkey".to_owned()))?;
            tracing::info!("sandbox signing key received");
            Ok(key)
        };
        async move {
            let result = call.await;
            if let Err(e) = &result {
                tracing::info!(error = %e, "sandbox signing key call failed");
            }
            result
        }
        .instrument(span)
        .await
    }
}
