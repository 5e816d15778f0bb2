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

export type ModelSource = 'path' | 'upload';

/** A registered HF-format model directory (built-in models are not rows: they live in code). */
@Entity('models')
@Index(['project_id', 'name'], { unique: true })
export class Model {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  project_id: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Project;

  @Column('text')
  name: string;

  @Column('text')
  source: ModelSource;

  /** Absolute path of the HF-format directory (holds config.json) on the workers' disk. */
  @Column('text')
  path: string;

  /** `model_type` / `architectures[0]` from config.json, for display. */
  @Column('text', { nullable: true })
  architecture: string | null;

  /** The parsed config.json. */
  @Column('jsonb')
  hf_config: JsonObject;

  @Column('bigint', { nullable: true })
  size_bytes: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
