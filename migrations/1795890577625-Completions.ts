import type { MigrationInterface, QueryRunner } from 'typeorm';

// Generated from the entities (TypeORM's schema builder, as `migration:generate` does): the completions table.
export class Completions1795890577625 implements MigrationInterface {
  name = 'Completions1795890577625';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "completions" ("job_id" uuid NOT NULL, "step" integer NOT NULL, "prompt_index" integer NOT NULL, "sample_index" integer NOT NULL, "prompt" text NOT NULL, "answer" text NOT NULL, "completion" text NOT NULL, "reward" double precision NOT NULL, "positive" boolean NOT NULL, "weight" double precision, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_29900501afe28dd519e1ae94d8c" PRIMARY KEY ("job_id", "step", "prompt_index", "sample_index"))`,
    );
    await queryRunner.query(
      `ALTER TABLE "completions" ADD CONSTRAINT "FK_2dec2e85791f57dc51fd00d851c" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "completions" DROP CONSTRAINT "FK_2dec2e85791f57dc51fd00d851c"`);
    await queryRunner.query(`DROP TABLE "completions"`);
  }
}
