//! The supervisor console's settings (`[console]` with `[http]`'s token and
//! TLS, the data directory, the center's calendar and the quality forms) as
//! the API crate takes them.

use crate::config::{Config, ConfigError};

impl Config {
    /// The console's settings: sessions, login limits, the read API, the
    /// recordings root and data directory, the calendar of its "today".
    pub fn console_config(&self) -> Result<hotline_api::ConsoleConfig, ConfigError> {
        let c = &self.console;
        let mut ccfg =
            hotline_api::ConsoleConfig::new(self.recordings_dir(), self.storage.data_dir.clone());
        ccfg.api_token = self.http.api_token.clone();
        ccfg.secure_cookies = self.http.tls_cert.is_some();
        ccfg.session_idle_s = c.session_idle_s;
        ccfg.session_max_s = c.session_max_s;
        ccfg.login_attempts = c.login_attempts;
        ccfg.login_window_s = c.login_window_s;
        ccfg.open_read_api = c.open_read_api;
        ccfg.calendar = self.calendar()?;
        ccfg.shared = match self.recordings_store()? {
            Some(s) => Some(
                hotline_recorder::shared::SharedStore::open(&s.settings)
                    .map_err(|e| crate::config::invalid("recordings_store.url", e.to_string()))?,
            ),
            None => None,
        };
        if !self.quality_forms.is_empty() {
            ccfg.quality_forms = self.quality_forms.clone();
        }
        Ok(ccfg)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn the_console_takes_the_center_s_calendar_and_the_http_token() {
        let cfg = Config::parse(
            "[schedule]\ntimezone = \"Asia/Shanghai\"\n\n[http]\napi_token = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .unwrap();
        let c = cfg.console_config().unwrap();
        assert_eq!(c.calendar.name(), "Asia/Shanghai");
        assert_eq!(c.api_token, "0123456789abcdef0123456789abcdef");
        assert!(!c.secure_cookies, "no TLS, no secure cookies");
        let bad = Config::parse("[schedule]\ntimezone = \"Mars/Olympus\"\n");
        // an unknown zone is refused at parse or here, naming the key
        let e = match bad {
            Err(e) => e.to_string(),
            Ok(cfg) => cfg.console_config().unwrap_err().to_string(),
        };
        assert!(e.contains("schedule.timezone"), "{e}");
    }
}
