-- The marts as main created them before is_final (git show 5098b2c:laaffic_pipeline/warehouse/sql/create_marts.sql,
-- its COMMENT ON statements left out): with raw_tables_before_sip_groups.sql, a warehouse as a version
-- before both sip_group_name and raw.provisional_days wrote it.
CREATE SCHEMA IF NOT EXISTS marts;

CREATE TABLE IF NOT EXISTS marts.call_facts (
    call_date                 DATE NOT NULL,
    voice_id                  VARCHAR,
    sip_group_name            VARCHAR,
    phone_name                VARCHAR,
    callee                    VARCHAR,
    display_num               VARCHAR,
    code                      VARCHAR,
    country                   VARCHAR,
    region                    VARCHAR,
    submit_time               TIMESTAMPTZ,
    call_time                 TIMESTAMPTZ,
    ringing_time              TIMESTAMPTZ,
    answer_time               TIMESTAMPTZ,
    hangup_time               TIMESTAMPTZ,
    call_duration_s           INTEGER,
    charged_duration_s        INTEGER,
    termination_code          VARCHAR,
    termination_reason        VARCHAR,
    is_answered               BOOLEAN,
    cost                      DECIMAL(18, 6),
    rate                      DECIMAL(18, 6),
    quote_currency            VARCHAR,
    cost_currency             VARCHAR,
    cost_currency_rule        VARCHAR NOT NULL,
    settle_rate               DECIMAL(18, 6),
    quote_exchange            DECIMAL(18, 10),
    settle_pay                DECIMAL(18, 6),
    base_cost                 DECIMAL(18, 6),
    bill_period               VARCHAR,
    bill_initial_s            INTEGER,
    bill_increment_s          INTEGER,
    recording_file_id         VARCHAR,
    ring_s                    INTEGER,
    post_dial_delay_s         INTEGER,
    talk_s                    INTEGER,
    expected_charged_s        INTEGER,
    expected_cost             DECIMAL(18, 6),
    charged_duration_mismatch BOOLEAN,
    cost_mismatch             BOOLEAN,
    quality_flags             VARCHAR[] NOT NULL,
    fetched_at                TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS marts.daily_costs (
    call_date                DATE NOT NULL,
    sip_group_name           VARCHAR,
    phone_name               VARCHAR,
    country                  VARCHAR,
    currency                 VARCHAR,
    calls                    BIGINT NOT NULL,
    answered_calls           BIGINT NOT NULL,
    asr                      DOUBLE,
    call_seconds             BIGINT,
    charged_seconds          BIGINT,
    expected_charged_seconds BIGINT,
    talk_seconds             BIGINT,
    talk_timed_calls         BIGINT NOT NULL,
    acd_s                    DOUBLE,
    post_dial_delay_seconds  BIGINT,
    post_dial_delay_calls    BIGINT NOT NULL,
    avg_post_dial_delay_s    DOUBLE,
    -- Money totals are DECIMAL(38, 6), the exact type DuckDB sums DECIMAL(18, 6) into.
    total_cost               DECIMAL(38, 6),
    expected_cost            DECIMAL(38, 6),
    cost_difference          DECIMAL(38, 6),
    unpriced_calls           BIGINT NOT NULL,
    cost_mismatch_calls      BIGINT NOT NULL,
    flagged_calls            BIGINT NOT NULL
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
