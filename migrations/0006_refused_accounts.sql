CREATE TABLE "refused_accounts" (
	"crm" text NOT NULL,
	"account_id" text NOT NULL,
	"refused_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "refused_accounts_crm_account_id_pk" PRIMARY KEY("crm","account_id")
);
