CREATE TABLE "oauth_connections" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"secret" text NOT NULL,
	"access_expires_at" timestamp(6) with time zone NOT NULL,
	"refresh_after" timestamp(6) with time zone NOT NULL,
	"connected_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"refreshed_at" timestamp(6) with time zone,
	"failure" text
);
--> statement-breakpoint
CREATE TABLE "oauth_states_used" (
	"nonce" "bytea" PRIMARY KEY NOT NULL,
	"expires_at" timestamp(6) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "oauth_connections" ADD CONSTRAINT "oauth_connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;