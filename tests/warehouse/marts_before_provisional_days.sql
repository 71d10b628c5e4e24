-- The marts as main created them before is_final (git show 5098b2c:laaffic_pipeline/warehouse/sql/create_marts.sql),
-- beside raw_tables_before_sip_groups.sql: together, a warehouse as a version before both wrote it.
-- Marts: typed, cleaned call facts and their daily cost aggregates, rebuilt from raw for any set
-- of days. The COMMENT ON statements are the one description of every table and column: the
-- Dagster UI (warehouse/columns.py) and docs/warehouse.md (tested) show these words.
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
COMMENT ON TABLE marts.call_facts IS
    'One row per call, typed from the raw JSON: each voice id once in the whole table (a record without one is its own row).';
COMMENT ON COLUMN marts.call_facts.call_date IS 'Partition (local day) whose API window returned the call.';
COMMENT ON COLUMN marts.call_facts.voice_id IS 'voiceId: one row per id in the table; NULL only if the API sent none.';
COMMENT ON COLUMN marts.call_facts.sip_group_name IS 'sipGroupName: the phone group (department).';
COMMENT ON COLUMN marts.call_facts.phone_name IS 'phoneName: the SIP phone that placed the call.';
COMMENT ON COLUMN marts.call_facts.callee IS 'callee: the number called.';
COMMENT ON COLUMN marts.call_facts.display_num IS 'displayNum: the caller id shown.';
COMMENT ON COLUMN marts.call_facts.code IS 'code: operator''s area as sent, e.g. ''Afghanistan(Kandahar)''.';
COMMENT ON COLUMN marts.call_facts.country IS 'code before the parentheses (''Afghanistan''); the whole code if none.';
COMMENT ON COLUMN marts.call_facts.region IS 'code inside the parentheses (''Kandahar''); NULL when there are none.';
COMMENT ON COLUMN marts.call_facts.submit_time IS 'submitTime as an instant (its offset honoured).';
COMMENT ON COLUMN marts.call_facts.call_time IS 'callTime as an instant.';
COMMENT ON COLUMN marts.call_facts.ringing_time IS 'ringingTime; NULL when the phone never rang.';
COMMENT ON COLUMN marts.call_facts.answer_time IS 'answerTime; NULL when the call was not answered.';
COMMENT ON COLUMN marts.call_facts.hangup_time IS 'hangupTime as an instant.';
COMMENT ON COLUMN marts.call_facts.call_duration_s IS 'callDuration in seconds.';
COMMENT ON COLUMN marts.call_facts.charged_duration_s IS 'chargedDuration: the seconds Laaffic charged.';
COMMENT ON COLUMN marts.call_facts.termination_code IS 'terminationCode: SIP code; 200 = established.';
COMMENT ON COLUMN marts.call_facts.termination_reason IS 'terminationReason: the SIP code''s description.';
COMMENT ON COLUMN marts.call_facts.is_answered IS 'termination_code = ''200''; NULL when the code is missing.';
COMMENT ON COLUMN marts.call_facts.cost IS 'cost: what Laaffic billed, in cost_currency (exact decimal).';
COMMENT ON COLUMN marts.call_facts.rate IS 'rate: price per minute, in cost_currency.';
COMMENT ON COLUMN marts.call_facts.quote_currency IS
    'currency (the document''s "Quotation Currency"): ISO code as sent, upper case.';
COMMENT ON COLUMN marts.call_facts.cost_currency IS
    'Currency of cost, rate and expected_cost: quote_currency, or the code LAAFFIC_COST_CURRENCY names.';
COMMENT ON COLUMN marts.call_facts.cost_currency_rule IS
    'LAAFFIC_COST_CURRENCY the row was built with: ''record'' or a three-letter code.';
COMMENT ON COLUMN marts.call_facts.settle_rate IS 'settleRate when sent (exact decimal); NULL when absent, or unreadable (flagged invalid_settle_rate).';
COMMENT ON COLUMN marts.call_facts.quote_exchange IS
    'quoteExchange when sent (exact decimal, 10 places); NULL when absent, or unreadable (flagged invalid_quote_exchange).';
COMMENT ON COLUMN marts.call_facts.settle_pay IS 'settlePay when sent (exact decimal); NULL when absent, or unreadable (flagged invalid_settle_pay).';
COMMENT ON COLUMN marts.call_facts.base_cost IS 'baseCost when sent (exact decimal); NULL when absent, or unreadable (flagged invalid_base_cost).';
COMMENT ON COLUMN marts.call_facts.bill_period IS 'billPeriod ''a+b'': first a seconds, then b-second increments.';
COMMENT ON COLUMN marts.call_facts.bill_initial_s IS 'a of billPeriod: the minimum charged seconds.';
COMMENT ON COLUMN marts.call_facts.bill_increment_s IS 'b of billPeriod: seconds per increment after the first a.';
COMMENT ON COLUMN marts.call_facts.recording_file_id IS 'recordingFileId; NULL when nothing was recorded.';
COMMENT ON COLUMN marts.call_facts.ring_s IS 'answer_time - ringing_time in seconds.';
COMMENT ON COLUMN marts.call_facts.post_dial_delay_s IS 'ringing_time - call_time in seconds.';
COMMENT ON COLUMN marts.call_facts.talk_s IS 'hangup_time - answer_time in seconds.';
COMMENT ON COLUMN marts.call_facts.expected_charged_s IS
    'Charged seconds by the bill period''s rule: 0 if d = 0, a if d <= a, else a + ceil((d-a)/b)*b.';
COMMENT ON COLUMN marts.call_facts.expected_cost IS
    'rate x expected_charged_s / 60, rounded half-up to 6 places, in cost_currency.';
COMMENT ON COLUMN marts.call_facts.charged_duration_mismatch IS 'charged_duration_s <> expected_charged_s.';
COMMENT ON COLUMN marts.call_facts.cost_mismatch IS
    '|cost - expected_cost| > 0.000001 (one micro-unit tolerated for rounding conventions).';
COMMENT ON COLUMN marts.call_facts.quality_flags IS
    'One name per problem (missing_<field>, invalid_<field>, <duration>_as_string); [] when clean.';
COMMENT ON COLUMN marts.call_facts.fetched_at IS 'When the raw page carrying the record was received.';

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
COMMENT ON TABLE marts.daily_costs IS
    'One row per day, sip_group_name, phone_name, country and currency (the money''s), from that day''s call facts.';
COMMENT ON COLUMN marts.daily_costs.call_date IS 'Partition day of the calls.';
COMMENT ON COLUMN marts.daily_costs.sip_group_name IS 'Phone group.';
COMMENT ON COLUMN marts.daily_costs.phone_name IS 'Phone.';
COMMENT ON COLUMN marts.daily_costs.country IS 'Destination country (from code).';
COMMENT ON COLUMN marts.daily_costs.currency IS
    'Currency of every money column on the row (call_facts.cost_currency): never summed across.';
COMMENT ON COLUMN marts.daily_costs.calls IS 'Calls.';
COMMENT ON COLUMN marts.daily_costs.answered_calls IS 'Calls with termination code 200.';
COMMENT ON COLUMN marts.daily_costs.asr IS 'Answer-seizure ratio: answered_calls / calls.';
COMMENT ON COLUMN marts.daily_costs.call_seconds IS 'Sum of call_duration_s.';
COMMENT ON COLUMN marts.daily_costs.charged_seconds IS 'Sum of charged_duration_s (Laaffic''s).';
COMMENT ON COLUMN marts.daily_costs.expected_charged_seconds IS 'Sum of expected_charged_s (the bill-period rule).';
COMMENT ON COLUMN marts.daily_costs.talk_seconds IS 'Sum of talk_s over answered calls.';
COMMENT ON COLUMN marts.daily_costs.talk_timed_calls IS 'Answered calls whose talk_s is known (acd_s''s denominator).';
COMMENT ON COLUMN marts.daily_costs.acd_s IS 'Average call duration: talk_seconds / talk_timed_calls.';
COMMENT ON COLUMN marts.daily_costs.post_dial_delay_seconds IS 'Sum of post_dial_delay_s.';
COMMENT ON COLUMN marts.daily_costs.post_dial_delay_calls IS 'Calls whose post_dial_delay_s is known.';
COMMENT ON COLUMN marts.daily_costs.avg_post_dial_delay_s IS 'post_dial_delay_seconds / post_dial_delay_calls.';
COMMENT ON COLUMN marts.daily_costs.total_cost IS 'Sum of Laaffic''s cost.';
COMMENT ON COLUMN marts.daily_costs.expected_cost IS 'Sum of expected_cost.';
COMMENT ON COLUMN marts.daily_costs.cost_difference IS
    'Sum of cost - expected_cost over calls where both are known (see unpriced_calls).';
COMMENT ON COLUMN marts.daily_costs.unpriced_calls IS 'Calls whose cost or expected_cost is unknown.';
COMMENT ON COLUMN marts.daily_costs.cost_mismatch_calls IS 'Calls with cost_mismatch.';
COMMENT ON COLUMN marts.daily_costs.flagged_calls IS 'Calls with at least one quality flag.';

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
COMMENT ON VIEW marts.daily_costs_by_currency IS
    'For dashboards: one row per day and currency (the money''s), summed from marts.daily_costs.';
COMMENT ON COLUMN marts.daily_costs_by_currency.call_date IS 'Partition day of the calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.currency IS 'Currency of every money column on the row.';
COMMENT ON COLUMN marts.daily_costs_by_currency.calls IS 'Calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.answered_calls IS 'Calls with termination code 200.';
COMMENT ON COLUMN marts.daily_costs_by_currency.asr IS 'answered_calls / calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.call_seconds IS 'Sum of call_duration_s.';
COMMENT ON COLUMN marts.daily_costs_by_currency.charged_seconds IS 'Sum of charged_duration_s (Laaffic''s).';
COMMENT ON COLUMN marts.daily_costs_by_currency.expected_charged_seconds IS 'Sum of expected_charged_s.';
COMMENT ON COLUMN marts.daily_costs_by_currency.talk_seconds IS 'Sum of talk_s over answered calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.talk_timed_calls IS 'Answered calls whose talk_s is known.';
COMMENT ON COLUMN marts.daily_costs_by_currency.acd_s IS 'talk_seconds / talk_timed_calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.post_dial_delay_seconds IS 'Sum of post_dial_delay_s.';
COMMENT ON COLUMN marts.daily_costs_by_currency.post_dial_delay_calls IS 'Calls whose post_dial_delay_s is known.';
COMMENT ON COLUMN marts.daily_costs_by_currency.avg_post_dial_delay_s IS
    'post_dial_delay_seconds / post_dial_delay_calls.';
COMMENT ON COLUMN marts.daily_costs_by_currency.total_cost IS 'Sum of Laaffic''s cost.';
COMMENT ON COLUMN marts.daily_costs_by_currency.expected_cost IS 'Sum of expected_cost.';
COMMENT ON COLUMN marts.daily_costs_by_currency.cost_difference IS
    'Sum of cost - expected_cost over calls where both are known.';
COMMENT ON COLUMN marts.daily_costs_by_currency.unpriced_calls IS 'Calls whose cost or expected_cost is unknown.';
COMMENT ON COLUMN marts.daily_costs_by_currency.cost_mismatch_calls IS 'Calls with cost_mismatch.';
COMMENT ON COLUMN marts.daily_costs_by_currency.flagged_calls IS 'Calls with at least one quality flag.';
