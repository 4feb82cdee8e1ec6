//! Google (OpenID Connect: an ID token checked against Google's JWKS) and Kakao (its user
//! info endpoint): where each sends someone to sign in, and who came back.

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, ExtraTokenFields, RedirectUrl,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use shared::auth::jwks::Jwks;
use shared::config::{OAuthSettings, ProviderSettings};
use shared::domain::accounts::Email;
use shared::domain::accounts::identities::{Identity, Provider};

use super::Failure;
use super::http::Http;

/// An OpenID Connect provider's token answer carries the ID token beside the access token.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub type Token = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An OAuth 2.0 client with its authorization and token endpoints and a redirect URL set.
pub type Client = oauth2::Client<
    BasicErrorResponse,
    Token,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub struct Configured {
    pub which: Provider,
    pub client: Client,
    pub settings: ProviderSettings,
    /// Google's signing keys (its ID tokens); `None` for Kakao.
    jwks: Option<Jwks>,
}

/// The providers configured (a provider without a client id is off), and the HTTP client
/// that talks to them.
pub struct Providers {
    pub http: Http,
    google: Option<Configured>,
    kakao: Option<Configured>,
}

impl Providers {
    pub fn new(settings: &OAuthSettings) -> Result<Self, String> {
        let configure = |which: Provider, p: &Option<ProviderSettings>| -> Result<_, String> {
            let Some(p) = p else { return Ok(None) };
            let redirect = format!("{}/{}/callback", settings.redirect_base, which.as_str());
            let client = oauth2::Client::new(ClientId::new(p.client_id.clone()))
                .set_client_secret(ClientSecret::new(p.client_secret.expose().to_owned()))
                .set_auth_uri(AuthUrl::new(p.authorize_url.clone()).map_err(|e| e.to_string())?)
                .set_token_uri(TokenUrl::new(p.token_url.clone()).map_err(|e| e.to_string())?)
                .set_redirect_uri(RedirectUrl::new(redirect).map_err(|e| e.to_string())?);
            let jwks = match which {
                Provider::Google => {
                    Some(Jwks::new(&p.keys_or_userinfo_url).map_err(|e| e.to_string())?)
                }
                Provider::Kakao => None,
            };
            Ok(Some(Configured {
                which,
                client,
                settings: p.clone(),
                jwks,
            }))
        };
        Ok(Self {
            http: Http::new().map_err(|e| e.to_string())?,
            google: configure(Provider::Google, &settings.google)?,
            kakao: configure(Provider::Kakao, &settings.kakao)?,
        })
    }

    pub fn get(&self, which: Provider) -> Option<&Configured> {
        match which {
            Provider::Google => self.google.as_ref(),
            Provider::Kakao => self.kakao.as_ref(),
        }
    }
}

impl Configured {
    pub fn scopes(&self) -> &'static [&'static str] {
        match self.which {
            Provider::Google => &["openid", "email", "profile"],
            Provider::Kakao => &["account_email", "profile_nickname"],
        }
    }

    /// Who signed in, from the provider's token answer.
    pub async fn identity(
        &self,
        token: &Token,
        nonce: Option<&str>,
        http: &Http,
    ) -> Result<Identity, Failure> {
        match self.which {
            Provider::Google => self.google(token, nonce).await,
            Provider::Kakao => self.kakao(token, http).await,
        }
    }

    /// The ID token, checked: Google's signature (RS256, a key of its JWKS), our client id
    /// as `aud`, Google as `iss`, unexpired, and the nonce this browser was given.
    async fn google(&self, token: &Token, nonce: Option<&str>) -> Result<Identity, Failure> {
        #[derive(Deserialize)]
        struct Claims {
            sub: String,
            email: Option<String>,
            #[serde(default)]
            email_verified: bool,
            nonce: Option<String>,
            name: Option<String>,
        }
        let id_token = token.extra_fields().id_token.as_deref().ok_or_else(|| {
            tracing::warn!("Google answered without an ID token");
            Failure::ProviderError
        })?;
        let jwks = self.jwks.as_ref().ok_or(Failure::ProviderError)?;
        let bare = self
            .settings
            .issuer
            .trim_start_matches("https://")
            .to_owned();
        let issuers = [self.settings.issuer.clone(), bare];
        let claims: Claims = jwks
            .decode(id_token, &self.settings.client_id, &issuers)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "an ID token was refused");
                Failure::ProviderError
            })?;
        if claims.nonce.is_none() || claims.nonce.as_deref() != nonce {
            tracing::warn!("an ID token carried another nonce");
            return Err(Failure::ProviderError);
        }
        Ok(Identity {
            provider: Provider::Google,
            subject: claims.sub,
            verified_email: claims
                .email
                .filter(|_| claims.email_verified)
                .and_then(|e| Email::parse(&e).ok()),
            name: claims.name,
        })
    }

    /// Kakao's user info: its numeric id, and the email only when Kakao says it is valid
    /// and verified (it may be absent: no consent, or no business app).
    async fn kakao(&self, token: &Token, http: &Http) -> Result<Identity, Failure> {
        #[derive(Deserialize)]
        struct Me {
            id: i64,
            #[serde(default)]
            kakao_account: Account,
        }
        #[derive(Deserialize, Default)]
        struct Account {
            email: Option<String>,
            #[serde(default)]
            is_email_valid: bool,
            #[serde(default)]
            is_email_verified: bool,
            #[serde(default)]
            profile: Profile,
        }
        #[derive(Deserialize, Default)]
        struct Profile {
            nickname: Option<String>,
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "Kakao's user info {what}");
            Failure::ProviderError
        };
        let response = http
            .0
            .get(&self.settings.keys_or_userinfo_url)
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .map_err(|e| failed("failed", &e))?;
        if !response.status().is_success() {
            return Err(failed("answered", &response.status()));
        }
        let me: Me = response
            .json()
            .await
            .map_err(|e| failed("did not parse", &e))?;
        let account = me.kakao_account;
        Ok(Identity {
            provider: Provider::Kakao,
            subject: me.id.to_string(),
            verified_email: account
                .email
                .filter(|_| account.is_email_valid && account.is_email_verified)
                .and_then(|e| Email::parse(&e).ok()),
            name: account.profile.nickname,
        })
    }
}
