-- Stand-in for Companies House: company number → name and status (as Companies House spells it).
CREATE TABLE companies (
    company_number text PRIMARY KEY,
    name           text NOT NULL,
    status         text NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Stand-in for the central debarment list.
CREATE TABLE debarments (
    company_number text PRIMARY KEY,
    ground         text NOT NULL CHECK (length(btrim(ground)) > 0),
    mandatory      boolean NOT NULL,
    added_at       timestamptz NOT NULL DEFAULT now()
);

-- Evidence a supplier keeps on file for assurance.
CREATE TABLE supplier_profiles (
    company_number           text PRIMARY KEY,
    name                     text NOT NULL,
    annual_turnover_gbp      numeric(16, 2) NOT NULL CHECK (annual_turnover_gbp >= 0),
    employers_liability_gbp  numeric(16, 2) NOT NULL CHECK (employers_liability_gbp >= 0),
    certifications           text[] NOT NULL DEFAULT '{}',
    modern_slavery_statement boolean NOT NULL DEFAULT false,
    carbon_reduction_plan    boolean NOT NULL DEFAULT false,
    updated_at               timestamptz NOT NULL DEFAULT now()
);

-- Suppliers in a buy: registered, then qualified, flagged (lead to decide) or excluded.
CREATE TABLE buy_suppliers (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    company_number text NOT NULL,
    name           text NOT NULL,
    status         text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (buy_id, company_number)
);

-- One row per supplier per check, with its reason.
CREATE TABLE assurance_checks (
    buy_id         text NOT NULL REFERENCES joint_buys (buy_id),
    company_number text NOT NULL,
    check_name     text NOT NULL,
    passed         boolean NOT NULL,
    flagged        boolean NOT NULL DEFAULT false,
    reason         text NOT NULL,
    checked_at     timestamptz NOT NULL,
    PRIMARY KEY (buy_id, company_number, check_name)
);
