import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('projects')
export class Project {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  /** Upper bound on this project's concurrently running jobs; null = the worker's default. */
  @Column('int', { nullable: true })
  max_running_jobs: number | null;

  /** HMAC key for this project's webhook signatures (hex). */
  @Column('text')
  webhook_secret: string;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
