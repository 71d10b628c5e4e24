-- Marts: typed, cleaned call facts and their daily cost aggregates, rebuilt one day at a time.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.call_facts (
    call_date                 DATE NOT NULL,         -- the partition (local day) whose window returned it
    voice_id                  VARCHAR,               -- NULL only when the API sent none (flagged)
    sip_group_name            VARCHAR,
    phone_name                VARCHAR,
    callee                    VARCHAR,
    display_num               VARCHAR,
    code                      VARCHAR,               -- operator's area as sent, e.g. Afghanistan(Kandahar)
    country                   VARCHAR,               -- code before the parentheses
    region                    VARCHAR,               -- inside the parentheses; NULL when there are none
    submit_time               TIMESTAMPTZ,
    call_time                 TIMESTAMPTZ,
    ringing_time              TIMESTAMPTZ,           -- NULL when the phone never rang
    answer_time               TIMESTAMPTZ,           -- NULL when the call was not answered
    hangup_time               TIMESTAMPTZ,
    call_duration_s           INTEGER,
    charged_duration_s        INTEGER,               -- what Laaffic charged
    termination_code          VARCHAR,               -- SIP code; 200 = answered
    termination_reason        VARCHAR,
    is_answered               BOOLEAN,
    cost                      DECIMAL(18, 6),        -- what Laaffic billed, in currency
    rate                      DECIMAL(18, 6),        -- per minute, in currency
    currency                  VARCHAR,
    bill_period               VARCHAR,               -- 'a+b': first a seconds, then b-second steps
    bill_initial_s            INTEGER,
    bill_increment_s          INTEGER,
    recording_file_id         VARCHAR,
    ring_s                    INTEGER,               -- answer - ringing
    post_dial_delay_s         INTEGER,               -- ringing - call
    talk_s                    INTEGER,               -- hangup - answer
    expected_charged_s        INTEGER,               -- call_duration_s under the bill period's rule
    expected_cost             DECIMAL(18, 6),        -- rate x expected_charged_s / 60, half-up to 6 places
    charged_duration_mismatch BOOLEAN,               -- charged_duration_s <> expected_charged_s
    cost_mismatch             BOOLEAN,               -- |cost - expected_cost| > 0.000001
    quality_flags             VARCHAR[] NOT NULL,    -- one name per problem found; [] when clean
    fetched_at                TIMESTAMPTZ NOT NULL   -- when the raw page carrying it was received
);

CREATE TABLE IF NOT EXISTS marts.daily_costs (
    call_date               DATE NOT NULL,
    sip_group_name          VARCHAR,
    phone_name              VARCHAR,
    country                 VARCHAR,
    currency                VARCHAR,
    calls                   BIGINT NOT NULL,
    answered_calls          BIGINT NOT NULL,
    asr                     DOUBLE,                 -- answered_calls / calls
    call_seconds            BIGINT,
    charged_seconds         BIGINT,
    expected_charged_seconds BIGINT,
    talk_seconds            BIGINT,                 -- over answered calls with known times
    talk_timed_calls        BIGINT NOT NULL,        -- answered calls whose talk_s is known
    acd_s                   DOUBLE,                 -- talk_seconds / talk_timed_calls
    post_dial_delay_seconds BIGINT,
    post_dial_delay_calls   BIGINT NOT NULL,        -- calls whose post_dial_delay_s is known
    avg_post_dial_delay_s   DOUBLE,                 -- post_dial_delay_seconds / post_dial_delay_calls
    -- Money totals are DECIMAL(38, 6), the exact type DuckDB sums DECIMAL(18, 6) into.
    total_cost              DECIMAL(38, 6),         -- sum of Laaffic's cost
    expected_cost           DECIMAL(38, 6),         -- sum of expected_cost
    cost_difference         DECIMAL(38, 6),         -- sum of cost - expected_cost over priced calls
    unpriced_calls          BIGINT NOT NULL,        -- calls with cost or expected_cost unknown
    cost_mismatch_calls     BIGINT NOT NULL,
    flagged_calls           BIGINT NOT NULL         -- calls with at least one quality flag
);

-- Dashboards: one row per day and currency. Ratios are recomputed from the summed parts, never
-- averaged; counts stay BIGINT (a plain sum of BIGINT would widen to HUGEINT).
CREATE OR REPLACE VIEW marts.daily_costs_by_currency AS
SELECT
    call_date,
    currency,
    sum(calls)::BIGINT AS calls,
    sum(answered_calls)::BIGINT AS answered_calls,
    sum(answered_calls) / sum(calls) AS asr,
    sum(call_seconds)::BIGINT AS call_seconds,
    sum(charged_seconds)::BIGINT AS charged_seconds,
    sum(expected_charged_seconds)::BIGINT AS expected_charged_seconds,
    sum(talk_seconds)::BIGINT AS talk_seconds,
    sum(talk_timed_calls)::BIGINT AS talk_timed_calls,
    sum(talk_seconds) / nullif(sum(talk_timed_calls), 0) AS acd_s,
    sum(post_dial_delay_seconds)::BIGINT AS post_dial_delay_seconds,
    sum(post_dial_delay_calls)::BIGINT AS post_dial_delay_calls,
    sum(post_dial_delay_seconds) / nullif(sum(post_dial_delay_calls), 0) AS avg_post_dial_delay_s,
    sum(total_cost) AS total_cost,
    sum(expected_cost) AS expected_cost,
    sum(cost_difference) AS cost_difference,
    sum(unpriced_calls)::BIGINT AS unpriced_calls,
    sum(cost_mismatch_calls)::BIGINT AS cost_mismatch_calls,
    sum(flagged_calls)::BIGINT AS flagged_calls
FROM marts.daily_costs
GROUP BY call_date, currency;
