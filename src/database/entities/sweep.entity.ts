import type { JsonObject } from './json.js';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Project } from './project.entity.js';

@Entity('sweeps')
@Index(['project_id', 'idempotency_key'], { unique: true })
export class Sweep {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  project_id: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Project;

  @Column('text', { nullable: true })
  name: string | null;

  /** The job request every grid point starts from. */
  @Column('jsonb')
  base: JsonObject;

  /** "section.field" → list of values, as submitted. */
  @Column('jsonb')
  grid: JsonObject;

  @Column('int')
  job_count: number;

  @Column('text', { nullable: true })
  idempotency_key: string | null;

  @Column('char', { length: 64, nullable: true })
  request_hash: string | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
