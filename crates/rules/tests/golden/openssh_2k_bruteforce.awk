# The independent oracle of the brute-force acceptance tests
# (crates/rules/tests/replay_corpus.rs, tests/e2e/tests/detection.rs):
#   awk -f openssh_2k_bruteforce.awk ../shared/corpora/loghub-openssh/OpenSSH_2k.log
# Counts `Failed <method> for` lines except method `none` (N for `message
# repeated N times: [ Failed ...]`) per source address, and applies the
# documented semantics of ward-login-001 (crates/rules/RULES.md): an alert
# when 8 failures fall within 120 s, and a new one only after 120 s without
# such a window. Prints "ADDRESS ALERTS" per source with at least one alert.
{ split($3, hms, ":"); t = $2*86400 + hms[1]*3600 + hms[2]*60 + hms[3]; n = 0 }
/: Failed [^ ]+ for / && !/: Failed none for / { n = 1 }
/: message repeated [0-9]+ times: \[ Failed [^ ]+ for / && !/Failed none for/ { n = $8 }
n > 0 { match($0, / from [0-9a-f.:]+ port /); ip = substr($0, RSTART + 6, RLENGTH - 12);
        for (k = 0; k < n; k++) { c[ip]++; ts[ip, c[ip]] = t } }
END { for (ip in c) { q = -1; a = 0; for (j = 8; j <= c[ip]; j++)
        if (ts[ip, j] - ts[ip, j-7] <= 120) { if (ts[ip, j] > q) a++; q = ts[ip, j] + 120 };
      if (a) print ip, a } }
