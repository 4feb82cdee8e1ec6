//! The emails, in Korean and English, as HTML and plain text. Values from the request are
//! escaped before they enter the HTML.

use serde_json::Value;
use shared::events::email::{EmailRequest, Template};
use shared::mail::OutgoingEmail;

struct Text {
    subject: &'static str,
    greeting: &'static str,
    body: &'static str,
    action: Option<&'static str>,
    footer: &'static str,
}

fn text(template: Template, english: bool) -> Text {
    match (template, english) {
        (Template::Welcome, false) => Text {
            subject: "마음쉼표에 오신 것을 환영해요",
            greeting: "{nickname}님, 반가워요.",
            body: "마음쉼표에 가입해 주셔서 고마워요. 아래 버튼을 눌러 이메일 주소를 확인해 주세요. 링크는 24시간 동안 유효해요.",
            action: Some("이메일 확인하기"),
            footer: "본인이 가입하지 않았다면 이 메일을 무시해 주세요.",
        },
        (Template::Welcome, true) => Text {
            subject: "Welcome to MindPause",
            greeting: "Hello {nickname},",
            body: "Thank you for joining MindPause. Please confirm your email address with the button below. The link is valid for 24 hours.",
            action: Some("Confirm my email"),
            footer: "If you did not sign up, you can ignore this email.",
        },
        (Template::Verification, false) => Text {
            subject: "마음쉼표 이메일 확인",
            greeting: "{nickname}님,",
            body: "아래 버튼을 눌러 이메일 주소를 확인해 주세요. 링크는 24시간 동안 유효해요.",
            action: Some("이메일 확인하기"),
            footer: "요청하지 않았다면 이 메일을 무시해 주세요.",
        },
        (Template::Verification, true) => Text {
            subject: "Confirm your MindPause email",
            greeting: "Hello {nickname},",
            body: "Please confirm your email address with the button below. The link is valid for 24 hours.",
            action: Some("Confirm my email"),
            footer: "If you did not ask for this, you can ignore this email.",
        },
        (Template::PasswordReset, false) => Text {
            subject: "마음쉼표 비밀번호 재설정",
            greeting: "{nickname}님,",
            body: "비밀번호 재설정을 요청하셨어요. 아래 버튼을 눌러 새 비밀번호를 정해 주세요. 링크는 30분 동안 한 번만 쓸 수 있어요.",
            action: Some("비밀번호 재설정하기"),
            footer: "요청하지 않았다면 이 메일을 무시해 주세요. 비밀번호는 바뀌지 않아요.",
        },
        (Template::PasswordReset, true) => Text {
            subject: "Reset your MindPause password",
            greeting: "Hello {nickname},",
            body: "You asked to reset your password. Choose a new one with the button below. The link works once, for 30 minutes.",
            action: Some("Reset my password"),
            footer: "If you did not ask for this, ignore this email: your password stays the same.",
        },
        (Template::PasswordChanged, false) => Text {
            subject: "마음쉼표 비밀번호가 변경되었어요",
            greeting: "{nickname}님,",
            body: "계정의 비밀번호가 방금 변경되었고, 다른 기기에서는 로그아웃되었어요.",
            action: None,
            footer: "본인이 변경하지 않았다면 바로 비밀번호 재설정을 진행해 주세요.",
        },
        (Template::PasswordChanged, true) => Text {
            subject: "Your MindPause password was changed",
            greeting: "Hello {nickname},",
            body: "The password of your account was just changed, and your other devices were signed out.",
            action: None,
            footer: "If this was not you, reset your password right away.",
        },
    }
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn param<'a>(request: &'a EmailRequest, name: &str) -> Option<&'a str> {
    request.params.get(name).and_then(Value::as_str)
}

/// Renders a request, or explains why it never can be (a missing link).
pub fn render(request: &EmailRequest) -> Result<OutgoingEmail, String> {
    let english = request.locale == "en";
    let t = text(request.template, english);
    let nickname = param(request, "nickname").unwrap_or(if english { "there" } else { "회원" });
    let link = match t.action {
        Some(_) => Some(
            param(request, "link")
                .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
                .ok_or_else(|| format!("{:?} needs a link", request.template))?,
        ),
        None => None,
    };
    let greeting_text = t.greeting.replace("{nickname}", nickname);
    let greeting_html = t.greeting.replace("{nickname}", &escape(nickname));

    let mut text_body = format!("{greeting_text}\n\n{}\n", t.body);
    if let (Some(action), Some(link)) = (t.action, link) {
        text_body.push_str(&format!("\n{action}: {link}\n"));
    }
    text_body.push_str(&format!("\n{}\n\n— 마음쉼표 MindPause\n", t.footer));

    let button = match (t.action, link) {
        (Some(action), Some(link)) => format!(
            r#"<p><a href="{}" style="display:inline-block;padding:12px 20px;background:#6b8e7f;color:#fff;border-radius:8px;text-decoration:none">{}</a></p><p style="font-size:12px;color:#777">{}</p>"#,
            escape(link),
            escape(action),
            escape(link)
        ),
        _ => String::new(),
    };
    let lang = if english { "en" } else { "ko" };
    let html = format!(
        r#"<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{subject}</title></head><body style="font-family:sans-serif;line-height:1.6;color:#333"><p>{greeting_html}</p><p>{body}</p>{button}<p style="font-size:13px;color:#777">{footer}</p><p>— 마음쉼표 MindPause</p></body></html>"#,
        subject = escape(t.subject),
        body = escape(t.body),
        footer = escape(t.footer),
    );
    Ok(OutgoingEmail {
        to: request.to.clone(),
        subject: t.subject.to_owned(),
        text: text_body,
        html,
        template: serde_json::to_value(request.template)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        params: request.params.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(template: Template, locale: &str, params: Value) -> EmailRequest {
        EmailRequest {
            template,
            to: "a@example.com".into(),
            locale: locale.into(),
            params: params.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn every_template_renders_in_both_languages() {
        for template in [
            Template::Welcome,
            Template::Verification,
            Template::PasswordReset,
            Template::PasswordChanged,
        ] {
            for locale in ["ko", "en"] {
                let r = request(
                    template,
                    locale,
                    json!({ "nickname": "하늘", "token": "t0k", "link": "https://app/x?token=t0k" }),
                );
                let email = render(&r).unwrap();
                assert!(email.text.contains("하늘"));
                assert!(email.html.starts_with("<!doctype html>"));
                if template != Template::PasswordChanged {
                    assert!(email.text.contains("https://app/x?token=t0k"));
                    assert!(email.html.contains("https://app/x?token=t0k"));
                }
            }
        }
    }

    #[test]
    fn values_are_escaped_and_links_required() {
        let r = request(
            Template::Welcome,
            "ko",
            json!({ "nickname": "<b>x</b>", "link": "https://a/?a=1&b=2" }),
        );
        let email = render(&r).unwrap();
        assert!(email.html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(email.html.contains("a=1&amp;b=2"));
        assert!(render(&request(Template::PasswordReset, "en", json!({}))).is_err());
        assert!(
            render(&request(
                Template::PasswordReset,
                "en",
                json!({ "link": "javascript:alert(1)" })
            ))
            .is_err()
        );
        assert!(render(&request(Template::PasswordChanged, "en", json!({}))).is_ok());
    }
}
